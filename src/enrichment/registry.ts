// The registry of enrichment type modules: defaultRegistry() holds the five real types. A job type
// without a module (e.g. a build that leaves one out) is rescheduled like a not-ready view, no attempt
// spent, until its deadline (see processor/runner.ts).
import type { EnrichmentType } from '../queue/plan.js';
import { realModules } from './modules/index.js';
import type { EnrichmentModule } from './types.js';

export class EnrichmentRegistry {
  private readonly modules = new Map<EnrichmentType, EnrichmentModule>();

  constructor(modules: readonly EnrichmentModule[] = []) {
    for (const module of modules) this.register(module);
  }

  register(module: EnrichmentModule): this {
    this.modules.set(module.type, module);
    return this;
  }

  get(type: EnrichmentType): EnrichmentModule | undefined {
    return this.modules.get(type);
  }

  types(): EnrichmentType[] {
    return [...this.modules.keys()];
  }
}

/** The modules of the real enrichment types. */
export function defaultRegistry(): EnrichmentRegistry {
  return new EnrichmentRegistry(realModules());
}
