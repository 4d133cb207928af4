// The registry of enrichment type modules. The five real types arrive with the enrichment issue and
// register themselves in defaultRegistry(); until then it is empty and jobs wait (see processor/runner.ts:
// a type without a module is rescheduled like a not-ready view, no attempt spent, until its deadline).
import type { EnrichmentType } from '../queue/plan.js';
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

/** The modules of the real enrichment types (none yet: the enrichment issue adds them here). */
export function defaultRegistry(): EnrichmentRegistry {
  return new EnrichmentRegistry([]);
}
