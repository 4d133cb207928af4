// A real Warehouse seen through a thin layer that tests use to observe and to interleave: it records the
// statements of every transaction in the order sent, and can run a hook after any statement (to do what a
// concurrent instance would do at exactly that point). Everything is executed by the wrapped warehouse.
import type {
  BindValue,
  ExecuteResult,
  GroupResult,
  Row,
  Statement,
  StatementOptions,
  TransactionScope,
  Warehouse,
  WriteGroup,
} from '../../src/db/warehouse.js';

export type AfterStatement = (sql: string, binds: readonly BindValue[]) => Promise<void> | void;

export class HookedWarehouse implements Warehouse {
  /** Per transaction (transaction(), writeGroups() or withTransaction()), the SQL of each statement in the order sent. */
  readonly transactions: string[][] = [];
  /** Runs after each statement outside a transaction completed (set or replace at any time). */
  afterStatement: AfterStatement | undefined;

  constructor(private readonly inner: Warehouse) {}

  get engine() {
    return this.inner.engine;
  }

  get counters() {
    return this.inner.counters;
  }

  async query<T extends Row = Row>(sql: string, binds: readonly BindValue[] = [], options?: StatementOptions): Promise<T[]> {
    const rows = await this.inner.query<T>(sql, binds, options);
    await this.afterStatement?.(sql, binds);
    return rows;
  }

  async execute(sql: string, binds: readonly BindValue[] = [], options?: StatementOptions): Promise<ExecuteResult> {
    const result = await this.inner.execute(sql, binds, options);
    await this.afterStatement?.(sql, binds);
    return result;
  }

  transaction(statements: readonly Statement[], options?: StatementOptions): Promise<ExecuteResult[]> {
    this.transactions.push(statements.map((statement) => statement.sql));
    return this.inner.transaction(statements, options);
  }

  writeGroups(groups: readonly WriteGroup[], options?: StatementOptions): Promise<GroupResult[]> {
    this.transactions.push(groups.flatMap((group) => group.statements.map((statement) => statement.sql)));
    return this.inner.writeGroups(groups, options);
  }

  withTransaction<T>(work: (scope: TransactionScope) => Promise<T>, options?: StatementOptions): Promise<T> {
    const sent: string[] = [];
    this.transactions.push(sent);
    const recorded = (scope: TransactionScope): TransactionScope => ({
      query: (sql, binds, statementOptions) => {
        sent.push(sql);
        return scope.query(sql, binds, statementOptions);
      },
      execute: (sql, binds, statementOptions) => {
        sent.push(sql);
        return scope.execute(sql, binds, statementOptions);
      },
    });
    return this.inner.withTransaction((scope) => work(recorded(scope)), options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
