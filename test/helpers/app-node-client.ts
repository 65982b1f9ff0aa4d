/**
 * The test side of test/helpers/app-node.ts: spawns it with this Node, sends
 * requests as JSON lines and waits for their answers and events. Every wait
 * is bounded; `close()` ends the child (by its own PID only).
 */
import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { AppNodeInit } from './app-node.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const script = fileURLToPath(new URL('./app-node.ts', import.meta.url))

/** An error the child reported: same name and message as the one thrown there. */
export class ChildError extends Error {
  constructor (name: string, message: string) {
    super(message)
    this.name = name
  }
}

/** A line the child wrote that is not an answer. */
export interface ChildEvent {
  event: string
  [field: string]: unknown
}

/** What `start` and `info` answer. */
export interface ChildNodeInfo {
  peerId: string
  multiaddrs: string[]
  connectString: string
}

type Answer = { id: number, ok: true, [field: string]: unknown } | { id: number, ok: false, error: { name: string, message: string } }

/** A beam node in a child process. */
export class AppNodeProcess {
  readonly child: ChildProcessWithoutNullStreams
  readonly events: ChildEvent[] = []
  readonly stderr: string[] = []
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (a: Answer) => void }>()
  private readonly waiters = new Set<() => void>()
  private exited = false

  constructor (label: string) {
    this.child = spawn(process.execPath, [script], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, BEAM_TEST_LABEL: label } })
    createInterface({ input: this.child.stdout }).on('line', line => { this.onLine(line) })
    createInterface({ input: this.child.stderr }).on('line', line => { if (this.stderr.length < 200) this.stderr.push(line) })
    this.child.on('exit', () => {
      this.exited = true
      for (const p of this.pending.values()) p.resolve({ id: 0, ok: false, error: { name: 'ChildExited', message: `child exited; stderr:\n${this.stderr.join('\n')}` } })
      this.pending.clear()
      for (const w of this.waiters) w()
    })
  }

  private onLine (line: string): void {
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(line) as Record<string, unknown>
    } catch {
      this.stderr.push(`stdout: ${line}`)
      return
    }
    if (typeof msg.event === 'string') {
      this.events.push(msg as ChildEvent)
      for (const w of this.waiters) w()
      return
    }
    const answer = msg as unknown as Answer
    const p = this.pending.get(answer.id)
    this.pending.delete(answer.id)
    p?.resolve(answer)
  }

  /** Send a request; resolves its answer, rejects with a ChildError as the child saw it. */
  async request<T = Record<string, unknown>> (op: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exited) throw new ChildError('ChildExited', `child exited; stderr:\n${this.stderr.join('\n')}`)
    const id = this.nextId++
    const answer = await new Promise<Answer>((resolve, reject) => {
      const t = setTimeout(() => { this.pending.delete(id); reject(new Error(`no answer to ${op} within ${timeoutMs} ms; stderr:\n${this.stderr.join('\n')}`)) }, timeoutMs)
      this.pending.set(id, { resolve: a => { clearTimeout(t); resolve(a) } })
      this.child.stdin.write(JSON.stringify({ id, op, ...args }) + '\n')
    })
    if (!answer.ok) throw new ChildError(answer.error.name, answer.error.message)
    return answer as unknown as T
  }

  /** Start the node in the child. */
  async start (init: AppNodeInit): Promise<ChildNodeInfo> {
    return await this.request<ChildNodeInfo>('start', { init }, 90_000)
  }

  /** The first event (seen already or to come) that matches; bounded by `timeoutMs`. */
  async waitForEvent (match: (e: ChildEvent) => boolean, timeoutMs = 60_000): Promise<ChildEvent> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.events.find(match)
      if (hit != null) return hit
      if (this.exited) throw new Error(`child exited; stderr:\n${this.stderr.join('\n')}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; events: ${JSON.stringify(this.events).slice(0, 2000)}`)
      await new Promise<void>(resolve => {
        const done = (): void => { clearTimeout(t); this.waiters.delete(done); resolve() }
        const t = setTimeout(done, Math.min(left, 1000))
        this.waiters.add(done)
      })
    }
  }

  /** Stop the node and end the child; kills it (by PID) if it does not exit within 10 s. */
  async close (): Promise<void> {
    if (this.exited) return
    const exit = new Promise<void>(resolve => { this.child.once('exit', () => { resolve() }) })
    this.request('stop', {}, 10_000).catch(() => {})
    const t = setTimeout(() => { this.child.kill('SIGKILL') }, 10_000)
    await exit
    clearTimeout(t)
  }
}
