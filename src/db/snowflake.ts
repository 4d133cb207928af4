// Placeholder: the Snowflake adapter is being written (issue 2, item 3).
import type { SnowflakeSettings } from '../config.js';
import type { Logger } from '../logger.js';
import type { Warehouse } from './warehouse.js';

export async function openSnowflakeWarehouse(_settings: SnowflakeSettings, _log: Logger): Promise<Warehouse> {
  throw new Error('the Snowflake adapter is not implemented yet');
}
