import { Duration, Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledgeWildcardAction } from './nag';

export interface AlertsProps {
  /** Email addresses subscribed to the topic (each confirms once). @default none */
  readonly emails?: string[];
  /** AWS Chatbot Slack channel; the workspace must have been authorized in the Chatbot console. @default none */
  readonly slack?: { readonly workspaceId: string; readonly channelId: string };
  /** "Still running" threshold of the watchdog schedule. @default 60 minutes */
  readonly durationWarning?: Duration;
}

/**
 * Where alerts go: a KMS-encrypted SNS topic with email and (optionally) Slack via AWS Chatbot; the schedule
 * group + role the watchdog's one-time "still running" schedules publish with; and (`watch`) an EventBridge
 * rule whose function alerts on executions that ended where no Catch could see it (TIMED_OUT, ABORTED,
 * uncatchable errors). Every publisher is a role of this stack: no service principal publishes, so neither
 * the topic policy nor the key policy names one.
 */
export class Alerts extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** Assumed by EventBridge Scheduler to publish the watchdog's "still running" message. */
  readonly schedulerRole: iam.Role;
  readonly durationWarning: Duration;

  constructor(scope: Construct, id: string, props: AlertsProps = {}) {
    super(scope, id);
    this.durationWarning = props.durationWarning ?? Duration.minutes(60);
    // The key policy keeps CDK's default (the account, i.e. IAM policies decide): publishers get the key's
    // use from their role's policy (topic.grantPublish), never from a service statement here.
    this.key = new kms.Key(this, 'Key', { description: 'pgshift alerts topic', enableKeyRotation: true });
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'pgshift',
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.emails ?? [])
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    if (props.slack) {
      new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: `${Stack.of(this).stackName}-pgshift`.slice(0, 128),
        slackWorkspaceId: props.slack.workspaceId,
        slackChannelId: props.slack.channelId,
        notificationTopics: [this.topic],
        // Notifications only: nobody can run commands from the channel.
        guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
        loggingLevel: chatbot.LoggingLevel.ERROR,
      });
    }
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'WatchdogSchedules', {});
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          // Scheduler's confused-deputy key is the schedule group's ARN (never a schedule's).
          StringEquals: {
            'aws:SourceAccount': Stack.of(this).account,
            'aws:SourceArn': this.scheduleGroup.scheduleGroupArn,
          },
        },
      }),
      description: 'pgshift watchdog: EventBridge Scheduler publishes "still running" to the alerts topic',
    });
    this.topic.grantPublish(this.schedulerRole);
    acknowledgeWildcardAction(
      this.schedulerRole,
      'kms:GenerateDataKey*',
      "Added by topic.grantPublish for the topic's KMS key, and limited to that one key.",
    );
  }

  /**
   * Sends executions of `stateMachine` that end FAILED, TIMED_OUT or ABORTED to `ended` (lambdas/ended/), which
   * alerts what the workflow could not and deletes the watchdog. `publishers` are the functions that publish
   * to the topic besides the scheduler role: the topic policy names exactly those roles.
   */
  watch(stateMachine: sfn.IStateMachine, ended: lambda.IFunction, publishers: lambda.IFunction[]): void {
    const rule = new events.Rule(this, 'ExecutionEnded', {
      description: 'pgshift: an execution ended FAILED, TIMED_OUT or ABORTED',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [stateMachine.stateMachineArn],
        },
      },
    });
    // The whole event: the function reads the execution's input (database, action) and its error.
    rule.addTarget(new targets.LambdaFunction(ended, { retryAttempts: 4, maxEventAge: Duration.hours(2) }));
    const roles = [...publishers.map((f) => f.role), this.schedulerRole].filter(
      (r): r is iam.IRole => r !== undefined,
    );
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PgshiftPublishers',
        principals: roles.map((r) => new iam.ArnPrincipal(r.roleArn)),
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
      }),
    );
  }
}
