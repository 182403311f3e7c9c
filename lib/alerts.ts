import { Duration, Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
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
  /** "Still running" threshold: the watchdog schedule and the ExecutionTime alarm. @default 60 minutes */
  readonly durationWarning?: Duration;
}

/**
 * Where alerts go: a KMS-encrypted SNS topic with email and (optionally) Slack via AWS Chatbot; an EventBridge
 * rule that alerts on FAILED/TIMED_OUT/ABORTED executions the workflow could not report itself; a CloudWatch
 * alarm on ExecutionTime; and the schedule group + role the watchdog's one-time "still running" schedules use.
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
    this.key = new kms.Key(this, 'Key', { description: 'pgshift alerts topic', enableKeyRotation: true });
    // EventBridge and CloudWatch publish to an encrypted topic only if the key lets them.
    for (const service of ['events.amazonaws.com', 'cloudwatch.amazonaws.com']) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
    }
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
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
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

  /** Alerts on executions that end FAILED, TIMED_OUT or ABORTED, and on executions that ran too long. */
  watch(stateMachine: sfn.IStateMachine): void {
    const region = Stack.of(this).region;
    const rule = new events.Rule(this, 'ExecutionFailed', {
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
    const executionArn = events.EventField.fromPath('$.detail.executionArn');
    rule.addTarget(
      new targets.SnsTopic(this.topic, {
        message: events.RuleTargetInput.fromMultilineText(
          [
            `pgshift execution ${events.EventField.fromPath('$.detail.name')} ended ${events.EventField.fromPath('$.detail.status')}.`,
            `Error: ${events.EventField.fromPath('$.detail.error')}`,
            `Cause: ${events.EventField.fromPath('$.detail.cause')}`,
            `Console: https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`,
          ].join('\n'),
        ),
      }),
    );
    const alarm = new cloudwatch.Alarm(this, 'ExecutionTooLong', {
      alarmDescription: `pgshift: an execution took longer than ${this.durationWarning.toMinutes()} minutes`,
      metric: stateMachine.metricTime({ statistic: 'Maximum', period: Duration.minutes(5) }),
      threshold: this.durationWarning.toMilliseconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(this.topic));
    // The topic policy CDK writes names only the rule's service (events.amazonaws.com): without this, the
    // alarm's publish is denied (test/infra/iam-publishers.test.ts simulates it).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: { 'aws:SourceArn': alarm.alarmArn },
        },
      }),
    );
  }
}
