/** Types for the rig's ESM modules, for TypeScript callers (npm start, benchmarks). */
export interface RigInfo {
  databaseUrl: string;
  pg: {
    host: string;
    port: number;
    user: string;
    password: string;
    bin: string;
    socketDir: string;
    caFile?: string;
    serverLog: string;
    templateDatabase: string;
  };
  s3: { endpoint: string; bucket: string; region: string };
  sns: { endpoint: string; topicArn: string; spyQueueUrl: string };
}
