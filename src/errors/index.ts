// outlast/errors: tell a connection error from a bug.
export { classify, isConnectionError } from "./classify.js";
export type { ClassifyOptions } from "./classify.js";
export { KINDS } from "./classification.js";
export type { Classification, Delivered, Kind, Platform, Verdict } from "./classification.js";
export { describeCode } from "./describe-code.js";
export type { CodeDescription } from "./describe-code.js";
export { registerClassifier } from "./registry.js";
export type { ClassifierRule } from "./registry.js";
export { systemClock, ManualClock } from "./clock.js";
export type { Clock, Timer } from "./clock.js";
export { retry } from "./retry.js";
export type { RetryAttempt, RetryEvent, RetryOptions } from "./retry.js";
export {
  OutlastError,
  isOutlastError,
  isOutlastErrorCode,
  OUTLAST_ERROR_CODES,
  RETIRED_OUTLAST_ERROR_CODES,
} from "./outlast-error.js";
export type {
  AnyOutlastError,
  DetailsOf,
  DropDetails,
  OutlastErrorCode,
  OutlastErrorDetails,
  OutlastErrorOptions,
  PeerErrorCode,
  PeerErrorDetails,
} from "./outlast-error.js";
