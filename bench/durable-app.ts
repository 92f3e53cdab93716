/** The benchmark's durable app: one trivial activity and an orchestration that calls it n times in sequence. */
import * as df from 'durable-functions';

df.app.activity('BenchEcho', { handler: (value: number) => value });

df.app.orchestration('BenchChain', function* (context) {
  const n = context.df.getInput() as number;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (yield context.df.callActivity('BenchEcho', i)) as number;
  return sum;
});
