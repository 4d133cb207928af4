// JavaScript stored procedures for the fake Snowflake endpoint: the body runs under Node as Snowflake runs it,
// synchronously, against a small `snowflake` object (docs.snowflake.com/en/sql-reference/stored-procedures-api:
// createStatement/execute, Statement.execute()/getNumRowsAffected(), ResultSet next()/getColumnValue(), errors
// with code, state and message).
//
// The body is synchronous and the fake's DuckDB is asynchronous, so the body runs in a worker thread and each
// statement crosses a synchronous bridge: the worker posts the statement on a MessagePort and sleeps on a shared
// word (Atomics.wait); the main thread runs the statement through the fake's own statement path (faults and
// Snowflake rules included), posts the answer and wakes the worker (Atomics.notify), which reads it with
// receiveMessageOnPort.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

/** What a statement run for the body returns to it. */
export interface ProcedureStatementResult {
  /** Rows inserted, updated or deleted; 0 for statements that change nothing. */
  rowsAffected: number;
  columns: string[];
  rows: unknown[][];
}

/** A statement error as Snowflake reports it. */
export interface ProcedureError {
  code: string;
  message: string;
  sqlState?: string;
}

/** Runs one statement for the body; rejects with a ProcedureError-shaped value when the statement fails. */
export type RunProcedureStatement = (sqlText: string, binds: unknown[]) => Promise<ProcedureStatementResult>;

/** The parts of a procedure the runner needs (see ProcedureDefinition in snowflake-rules.ts). */
export interface JavaScriptProcedure {
  /** Argument names as declared, upper case: the body sees them as variables of these names. */
  argumentNames: string[];
  body: string;
}

/** The body's outcome: its return value, or the JavaScript error it let escape. */
export type ProcedureOutcome = { value: unknown } | { uncaught: { message: string } };

// Plain JavaScript (an eval'd worker): the `snowflake` object and the bridge.
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { port, wake, argumentNames, args, body } = workerData;
const flag = new Int32Array(wake);

function bridge(request) {
  Atomics.store(flag, 0, 0);
  port.postMessage(request);
  Atomics.wait(flag, 0, 0);
  const answer = receiveMessageOnPort(port);
  if (answer === undefined) throw new Error('fake procedure bridge: no answer');
  return answer.message;
}

function run(command) {
  if (command === null || typeof command !== 'object' || typeof command.sqlText !== 'string' || command.sqlText.trim() === '') {
    throw new Error('createStatement: sqlText is missing or empty');
  }
  const binds = command.binds === undefined ? [] : command.binds;
  if (!Array.isArray(binds) || binds.some((value) => value === undefined || (value !== null && typeof value === 'object'))) {
    throw new Error('createStatement: binds must be an array of strings, numbers, booleans or null');
  }
  const answer = bridge({ sqlText: command.sqlText, binds });
  if (answer.error) {
    // Snowflake's JavaScript API: a failed statement throws an error with code, state and message.
    const error = new Error(answer.error.message);
    error.code = Number(answer.error.code);
    error.state = answer.error.sqlState;
    throw error;
  }
  return answer.result;
}

function resultSet(result) {
  let row = -1;
  const column = (which) => {
    const index = typeof which === 'number' ? which - 1 : result.columns.indexOf(String(which).toUpperCase());
    if (index < 0 || index >= result.columns.length) throw new Error('getColumnValue: no column ' + which);
    return index;
  };
  return {
    next() {
      row += 1;
      return row < result.rows.length;
    },
    getColumnValue(which) {
      if (row < 0 || row >= result.rows.length) throw new Error('getColumnValue: no current row');
      return result.rows[row][column(which)];
    },
    getColumnCount: () => result.columns.length,
    getRowCount: () => result.rows.length,
  };
}

function createStatement(command) {
  let result;
  return {
    execute() {
      result = run(command);
      return resultSet(result);
    },
    getNumRowsAffected() {
      if (result === undefined) throw new Error('getNumRowsAffected: the statement has not been executed');
      return result.rowsAffected;
    },
    getSqlText: () => command.sqlText,
  };
}

const snowflake = { createStatement, execute: (command) => createStatement(command).execute() };
let outcome;
try {
  outcome = { value: new Function('snowflake', ...argumentNames, body)(snowflake, ...args) };
} catch (error) {
  outcome = { uncaught: { message: String(error && error.message !== undefined ? error.message : error) } };
}
port.postMessage({ done: outcome });
`;

/** Runs `procedure` with `args`, each statement it executes through `runStatement`. */
export function runJavaScriptProcedure(
  procedure: JavaScriptProcedure,
  args: unknown[],
  runStatement: RunProcedureStatement,
): Promise<ProcedureOutcome> {
  const { port1, port2 } = new MessageChannel();
  const wake = new SharedArrayBuffer(4);
  const flag = new Int32Array(wake);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { port: port2, wake, argumentNames: procedure.argumentNames, args, body: procedure.body },
    transferList: [port2],
  });
  return new Promise<ProcedureOutcome>((resolve, reject) => {
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      port1.close();
      void worker.terminate();
      settle();
    };
    port1.on('message', (message: { done?: ProcedureOutcome; sqlText?: string; binds?: unknown[] }) => {
      if (message.done !== undefined) {
        finish(() => resolve(message.done as ProcedureOutcome));
        return;
      }
      void runStatement(message.sqlText as string, message.binds ?? []).then(
        (result) => answer({ result }),
        (error: unknown) => answer({ error: procedureError(error) }),
      );
    });
    const answer = (reply: { result?: ProcedureStatementResult; error?: ProcedureError }) => {
      if (settled) return;
      port1.postMessage(reply);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    };
    worker.on('error', (error) => finish(() => reject(error)));
    worker.on('exit', (code) => {
      // The worker posts its outcome and then exits; the exit can be seen before the message is delivered.
      for (let queued = receiveMessageOnPort(port1); queued !== undefined; queued = receiveMessageOnPort(port1)) {
        const done = (queued.message as { done?: ProcedureOutcome }).done;
        if (done !== undefined) {
          finish(() => resolve(done));
          return;
        }
      }
      finish(() => reject(new Error(`procedure worker exited with code ${code} before the body returned`)));
    });
  });
}

function procedureError(error: unknown): ProcedureError {
  if (typeof error === 'object' && error !== null && typeof (error as ProcedureError).code === 'string') return error as ProcedureError;
  return { code: '100000', message: error instanceof Error ? error.message : String(error), sqlState: 'XX000' };
}
