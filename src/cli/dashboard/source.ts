import { controlRequest } from '../../peer/index.ts'
import type { LogEntry, LogRing, ProcessStatus, StatusTracker } from '../../peer/index.ts'
import { findProcesses } from '../control.ts'

/** One process as the dashboard shows it: its status, and a share's connect string. */
export interface DashboardProcess {
  /** What `beam status` shows of it. */
  status: ProcessStatus
  /** A share's connect string (it carries the access secret), else null. */
  connect: string | null
}

/** A log line of one process. */
export interface DashboardLogLine extends LogEntry {
  /** The process it came from. */
  pid: number
}

/** What a dashboard reads at each tick. */
export interface DashboardReading {
  /** The processes now. */
  processes: DashboardProcess[]
  /** Log lines kept since the last reading (the first: the last `firstLogs` lines of each process), oldest first. */
  logs: DashboardLogLine[]
}

/** Where a dashboard reads what it shows. */
export interface DashboardSource {
  /** Read the processes and their new log lines. */
  read: (firstLogs: number) => Promise<DashboardReading>
}

/**
 * Hands out each log line once from a store that answers "every line at or
 * after time T": remembers the last time seen and the lines seen at it.
 */
export class LogCursor {
  private last = -1
  private seenAtLast = new Set<string>()

  /** The lines of `entries` (oldest first, all at or after {@link since}) not handed out before. */
  take (entries: LogEntry[]): LogEntry[] {
    const out: LogEntry[] = []
    for (const e of entries) {
      if (e.time < this.last || (e.time === this.last && this.seenAtLast.has(e.line))) continue
      if (e.time > this.last) { this.last = e.time; this.seenAtLast = new Set() }
      this.seenAtLast.add(e.line)
      out.push(e)
    }
    return out
  }

  /** The time to ask from (undefined: every kept line). */
  get since (): number | undefined { return this.last < 0 ? undefined : this.last }
}

/** This process's own dashboard: its tracker, log ring and (on a share) connect string. */
export function localSource (tracker: StatusTracker, logs: LogRing, connect: () => string | null): DashboardSource {
  const cursor = new LogCursor()
  let started = false
  return {
    read: async (firstLogs) => {
      const status = tracker.snapshot()
      let lines = cursor.take(logs.lines(cursor.since))
      if (!started) { started = true; lines = lines.slice(-firstLogs) }
      return { processes: [{ status, connect: connect() }], logs: lines.map(l => ({ ...l, pid: status.pid })) }
    }
  }
}

/** `beam dashboard`: every process of a home, read through its control socket. */
export function homeSource (home: string, uid: number): DashboardSource {
  const cursors = new Map<number, LogCursor>()
  return {
    read: async (firstLogs) => {
      const live = (await findProcesses(home, uid)).filter(f => f.status != null)
      const pids = live.map(f => f.entry.pid)
      for (const pid of cursors.keys()) if (!pids.includes(pid)) cursors.delete(pid)
      const each = await Promise.all(live.map(async f => {
        const status = f.status as ProcessStatus
        const pid = f.entry.pid
        let connect: string | null = null
        if (status.role === 'share') {
          const r = await controlRequest(f.entry, { op: 'connect' }, { uid }).catch(() => undefined)
          // an older beam answers "unknown request": no connect string then
          if (r != null && 'connect' in r) connect = r.connect
        }
        let cursor = cursors.get(pid)
        const fresh = cursor == null
        if (cursor == null) { cursor = new LogCursor(); cursors.set(pid, cursor) }
        const since = cursor.since
        const r = await controlRequest(f.entry, { op: 'logs', ...(since != null ? { since } : {}) }, { uid }).catch(() => undefined)
        const lines = r != null && 'logs' in r ? cursor.take(r.logs) : []
        return { process: { status, connect }, logs: (fresh ? lines.slice(-firstLogs) : lines).map(l => ({ ...l, pid })) }
      }))
      return { processes: each.map(e => e.process), logs: each.flatMap(e => e.logs).sort((a, b) => a.time - b.time) }
    }
  }
}
