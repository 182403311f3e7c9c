import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Counts alert-path failures as the CloudWatch metric `pgshift/AlertFailures` (Embedded Metric Format in the
 * function's log: no API call, no IAM), with the operation that failed as a dimension.
 */
export function alertFailureCounter(service: string): (operation: string) => void {
  return (operation) => {
    const metrics = new Metrics({ namespace: 'pgshift', serviceName: `pgshift-${service}` });
    metrics.addDimension('operation', operation);
    metrics.addMetric('AlertFailures', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  };
}
