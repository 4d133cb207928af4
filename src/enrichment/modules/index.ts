// The five real enrichment types, one module each (spec/sources.md).
import type { EnrichmentModule } from '../types.js';
import { aggregateModule } from './aggregate.js';
import { hybridCreditsModule } from './hybrid-credits.js';
import { lockContentionModule } from './lock-contention.js';
import { queryHistoryModule } from './query-history.js';
import { queryInsightsModule } from './query-insights.js';

export function realModules(): EnrichmentModule[] {
  return [
    queryHistoryModule as EnrichmentModule,
    aggregateModule as EnrichmentModule,
    lockContentionModule as EnrichmentModule,
    hybridCreditsModule as EnrichmentModule,
    queryInsightsModule as EnrichmentModule,
  ];
}
