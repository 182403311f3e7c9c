import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * `EcsRunTask` with the state machine's permissions narrowed: CDK grants `ecs:StopTask`/`ecs:DescribeTasks` on
 * `*` and `iam:PassRole` without condition. Here the first two apply to tasks of this task's cluster only
 * (resource `task/<cluster>/*` and `ecs:cluster`), and the task and execution roles may be passed to ECS tasks
 * only (`iam:PassedToService`). The ASL it renders is EcsRunTask's, unchanged.
 */
export class ScopedEcsRunTask extends tasks.EcsRunTask {
  // `declare`: no field of its own (a class field would reset what EcsRunTask's constructor set).
  declare protected readonly taskPolicies?: iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: tasks.EcsRunTaskProps) {
    super(scope, id, props);
    const inherited = this.taskPolicies ?? [];
    const replaced = new Set(['ecs:StopTask', 'ecs:DescribeTasks', 'iam:PassRole']);
    const kept = inherited.filter((s) => !s.actions.some((a) => replaced.has(a)));
    const roles = [props.taskDefinition.taskRole, props.taskDefinition.executionRole].filter(
      (r): r is iam.IRole => r !== undefined,
    );
    this.taskPolicies = [
      ...kept,
      new iam.PolicyStatement({
        actions: ['ecs:StopTask', 'ecs:DescribeTasks'],
        resources: [ScopedEcsRunTask.clusterTasksArn(this, props.cluster.clusterName)],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: roles.map((r) => r.roleArn),
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    ];
  }

  /** `arn:<partition>:ecs:<region>:<account>:task/<cluster>/*`: every task of that cluster. */
  static clusterTasksArn(scope: Construct, clusterName: string): string {
    return Stack.of(scope).formatArn({ service: 'ecs', resource: 'task', resourceName: `${clusterName}/*` });
  }
}
