import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/**
 * The interface endpoints pgshift's in-VPC callers use, and who calls them. Derived from the SDK clients in
 * lambdas/: the database steps (migrate, preflight, report, schema, backup, restore) and the Fargate task.
 * workflow and notify run outside the VPC; nothing in the VPC calls SNS, Step Functions, STS or KMS (S3 and
 * Secrets Manager call KMS themselves; Lambda and Fargate get credentials without STS).
 */
export const INTERFACE_ENDPOINTS = {
  secretsmanager: 'every database step and the Fargate task read the database secret (GetSecretValue)',
  'ecr.api': 'the Fargate task pulls the image (authorization, manifests)',
  'ecr.dkr': 'the Fargate task pulls the image (Docker registry)',
  logs: "the Fargate task's awslogs driver writes from the task's network interface",
  monitoring: 'pre-flight reads FreeStorageSpace/FreeLocalStorage (GetMetricData), with the disk check only',
} as const;
export type InterfaceEndpointName = keyof typeof INTERFACE_ENDPOINTS;

export interface PgshiftVpcEndpointsProps {
  readonly vpc: ec2.IVpc;
  /** Subnets the interface endpoints get a network interface in (one per AZ): pgshift's subnets. */
  readonly subnets: ec2.ISubnet[];
  /** pgshift's security group: the endpoints accept HTTPS from it. */
  readonly clientSecurityGroupId: string;
  /** Route tables of those subnets, for the S3 gateway endpoint (S3 is also where image layers come from). */
  readonly routeTableIds: string[];
  /** Interface endpoints to create. @default every entry of INTERFACE_ENDPOINTS but `monitoring` */
  readonly services?: InterfaceEndpointName[];
}

/**
 * VPC endpoints for subnets without NAT: the S3 gateway endpoint and the interface endpoints pgshift calls, with
 * private DNS, behind one security group that accepts 443 from pgshift's security group only.
 */
export class PgshiftVpcEndpoints extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly s3: ec2.CfnVPCEndpoint;
  readonly interfaces: Partial<Record<InterfaceEndpointName, ec2.InterfaceVpcEndpoint>> = {};

  constructor(scope: Construct, id: string, props: PgshiftVpcEndpointsProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'pgshift VPC endpoints: HTTPS from the pgshift functions and Fargate task',
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(
      ec2.Peer.securityGroupId(props.clientSecurityGroupId),
      ec2.Port.tcp(443),
      'HTTPS from the pgshift security group',
    );
    // L1: the imported subnets carry no route table ids, and a subnet and a route table need not map one to one.
    this.s3 = new ec2.CfnVPCEndpoint(this, 'S3', {
      vpcId: props.vpc.vpcId,
      serviceName: `com.amazonaws.${region}.s3`,
      vpcEndpointType: 'Gateway',
      routeTableIds: props.routeTableIds,
    });
    const services =
      props.services ??
      Object.keys(INTERFACE_ENDPOINTS).filter(
        (s): s is InterfaceEndpointName => s in INTERFACE_ENDPOINTS && s !== 'monitoring',
      );
    for (const name of services) {
      this.interfaces[name] = new ec2.InterfaceVpcEndpoint(this, name.replace('.', '-'), {
        vpc: props.vpc,
        service: new ec2.InterfaceVpcEndpointService(`com.amazonaws.${region}.${name}`, 443),
        subnets: { subnets: props.subnets },
        securityGroups: [this.securityGroup],
        privateDnsEnabled: true,
        open: false,
      });
    }
  }
}
