export {
  alertFromEvent,
  executionConsoleUrl,
  failedStepOf,
  parseCaughtError,
  type Alert,
  type CaughtError,
} from './alert';
export { alertSubject, renderChatbot, renderEmail, renderSnsMessage } from './render';
export { publishAlert } from './publish';
export {
  startDurationWatchdog,
  stopDurationWatchdog,
  watchdogScheduleName,
  type WatchdogTarget,
} from './watchdog';
export { deliverAlert, readAlertMarker, type AlertChannel, type AlertDelivery } from './deliver';
export { nextSteps, stateNow } from './guidance';
export { whatHappened } from './render';
export { CHATBOT_LIMITS, clip, fitDescription, fitNextSteps } from './chatbot-fit';
export { runNotify, type NotifyDeps, type NotifyEvent } from './notify';
