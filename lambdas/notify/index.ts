export { alertFromEvent, executionConsoleUrl, parseCaughtError, type Alert, type CaughtError } from './alert';
export { alertSubject, renderChatbot, renderEmail, renderSnsMessage } from './render';
export { publishAlert } from './publish';
export {
  startDurationWatchdog,
  stopDurationWatchdog,
  watchdogScheduleName,
  type WatchdogTarget,
} from './watchdog';
