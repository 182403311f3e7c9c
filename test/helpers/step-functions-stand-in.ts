/**
 * The Step Functions API of a local deployment, for a client outside it (`pgshift plan` and
 * `pgshift start --wait` as CI runs them).
 * Step Functions' control plane has no local server, so StartExecution, DescribeExecution and
 * GetExecutionHistory are answered here; each execution is the deployment's synthesized state machine run by the
 * local runner (every Task from its asset, through the gateway). Each request is recorded on the deployment as
 * the authorization AWS would evaluate for `principal`, for the IAM simulation.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Authorization } from '../../bin/cli/aws-gateway';
import { deploymentRunOptions, type LocalDeployment } from '../../bin/cli/local-deployment';
import { runLocalWorkflow, type LocalRunResult, type StateEvent } from '../../bin/cli/local-runner';

interface Execution {
  executionArn: string;
  input: string;
  startDate: number;
  entered: { name: string; at: number }[];
  run?: LocalRunResult;
  done: Promise<void>;
}

export interface StepFunctionsStandIn {
  endpoint: string;
  /** Executions started through the endpoint, by ARN, with their input as sent. */
  executions: Map<string, Execution>;
  /** Waits for every started execution to end, then closes the endpoint. */
  close: () => Promise<void>;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function fail(res: http.ServerResponse, status: number, type: string, message: string): void {
  res.setHeader('x-amzn-errortype', type);
  reply(res, status, { __type: type, message });
}

export async function startStepFunctionsStandIn(
  deployment: LocalDeployment,
  principal: string,
  caller: string,
  runOptions: { retryIntervalMs?: number } = {},
): Promise<StepFunctionsStandIn> {
  const executions = new Map<string, Execution>();
  const machineArn = deployment.stateMachineArn;

  const start = (input: string, name: string): Execution => {
    const executionArn = `${machineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const execution: Execution = {
      executionArn,
      input,
      startDate: Date.now(),
      entered: [],
      done: Promise.resolve(),
    };
    execution.done = runLocalWorkflow({
      ...deploymentRunOptions(deployment),
      input: JSON.parse(input) as unknown,
      executionName: name,
      retryIntervalMs: runOptions.retryIntervalMs,
      onEvent: (e: StateEvent) => {
        if (e.type === 'entered') execution.entered.push({ name: e.state, at: e.at });
      },
    }).then((run) => {
      execution.run = run;
    });
    executions.set(executionArn, execution);
    return execution;
  };

  const describe = (e: Execution) => ({
    executionArn: e.executionArn,
    stateMachineArn: machineArn,
    name: e.executionArn.split(':').pop(),
    status: e.run?.status ?? 'RUNNING',
    startDate: e.startDate / 1000,
    ...(e.run ? { stopDate: e.run.stopDate / 1000 } : {}),
    input: e.input,
    ...(e.run?.ok ? { output: JSON.stringify(e.run.state ?? {}) } : {}),
    ...(e.run && !e.run.ok ? { error: e.run.error?.name, cause: e.run.error?.message } : {}),
  });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      const params = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        stateMachineArn?: string;
        executionArn?: string;
        input?: string;
        name?: string;
      };
      const resource = params.stateMachineArn ?? params.executionArn ?? '*';
      const authorization: Authorization = {
        principal,
        action: `states:${operation}`,
        resource,
        context: {},
      };
      const call = { caller, service: 'states', operation, authorizations: [authorization], status: 200 };
      deployment.calls.push(call);
      const refuse = (status: number, type: string, message: string) => {
        call.status = status;
        fail(res, status, type, message);
      };
      if (operation === 'StartExecution') {
        if (params.stateMachineArn !== machineArn) {
          refuse(
            400,
            'StateMachineDoesNotExist',
            `State Machine Does Not Exist: '${params.stateMachineArn}'`,
          );
          return;
        }
        const e = start(params.input ?? '{}', params.name ?? randomUUID());
        reply(res, 200, { executionArn: e.executionArn, startDate: e.startDate / 1000 });
        return;
      }
      const execution = params.executionArn ? executions.get(params.executionArn) : undefined;
      if (operation !== 'DescribeExecution' && operation !== 'GetExecutionHistory') {
        refuse(
          400,
          'InvalidAction',
          `the Step Functions stand-in answers StartExecution, DescribeExecution and GetExecutionHistory, not ${operation}`,
        );
        return;
      }
      if (!execution) {
        refuse(400, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${params.executionArn}'`);
        return;
      }
      if (operation === 'DescribeExecution') {
        reply(res, 200, describe(execution));
        return;
      }
      reply(res, 200, {
        events: execution.entered.map((s, i) => ({
          id: i + 1,
          timestamp: s.at / 1000,
          type: 'TaskStateEntered',
          stateEnteredEventDetails: { name: s.name },
        })),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    executions,
    close: async () => {
      await Promise.all([...executions.values()].map((e) => e.done));
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
