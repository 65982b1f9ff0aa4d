/** Explaining and measuring: NAT probes over STUN, beam doctor, and the /beam/bench throughput protocol. */
export { BENCH_PROTOCOL, BENCH_BACKENDS, benchPathAddresses, addressesFor } from './benchmark.ts'
export type { BenchBackend, BenchResult, BenchProgress, BenchmarkOptions } from './benchmark.ts'
export { diagnose, explain } from './diagnose.ts'
export type { ExplainOptions } from './diagnose.ts'
export type { DoctorReport, DiagnoseOptions, BootstrapCheck } from './diagnose.ts'
export { probeNat, classifyMapping, stunTargets, answeredBy } from './nat-probe.ts'
export type { NatReport, NatMapping, StunAnswer } from './nat-probe.ts'
export type { NatProbeOptions } from './nat-probe.ts'
