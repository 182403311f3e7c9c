export { alertFromEvent, executionConsoleUrl, parseCaughtError, type Alert, type CaughtError } from './alert';
export { alertSubject, renderChatbot, renderEmail, renderSnsMessage } from './render';
export { publishAlert } from './publish';
export {
  startDurationWatchdog,
  stopDurationWatchdog,
  watchdogScheduleName,
  type WatchdogTarget,
} from './watchdog';
export { deliverAlert, readAlertMarker, type AlertChannel, type AlertDelivery } from './deliver';
export { nextSteps, stateNow, whatHappened } from './render';
export { runNotify, type NotifyDeps, type NotifyEvent } from './notify';
