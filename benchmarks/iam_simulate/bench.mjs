// Decisions per CPU-second of @cloud-copilot/iam-simulate on the scenario given on stdin
// (bench_access.py's 6-statement key policy + 3 identity policies); prints the best of 3 rounds.
import { runSimulation } from '@cloud-copilot/iam-simulate'
import { readFileSync } from 'node:fs'

const s = JSON.parse(readFileSync(0, 'utf8'))
const simulation = {
  request: {
    principal: s.principal,
    action: s.action,
    resource: { resource: s.resource, accountId: s.account },
    contextVariables: s.context,
  },
  identityPolicies: s.identity_policies.map((policy, i) => ({ name: `identity${i}`, policy })),
  serviceControlPolicies: [],
  resourceControlPolicies: [],
  resourcePolicy: s.resource_policy,
}
const first = await runSimulation(simulation, {})
if (first.errors || first.result?.analysis?.result !== 'Allowed') {
  console.error(JSON.stringify(first).slice(0, 1000))
  process.exit(1)
}
let best = 0
for (let round = 0; round < 3; round++) {
  const start = process.cpuUsage()
  let n = 0
  let used = 0
  while (used < 1.5e6) {
    for (let i = 0; i < 50; i++) await runSimulation(simulation, {})
    n += 50
    const u = process.cpuUsage(start)
    used = u.user + u.system
  }
  best = Math.max(best, n / (used / 1e6))
}
console.log(Math.round(best))
