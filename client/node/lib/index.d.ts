// Generated from proto/clm/v1/clm.proto by scripts/gen-types.js: do not edit.
// Replies use these types with enums as names (the default, enums: 'name');
// with enums: 'number' every enum field holds its number instead. Inputs
// (the *Input types) take the camelCase names below; at run time the .proto
// (snake_case) names work too.

export type Code =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';
export declare const Code: Readonly<Record<Code, number>> & { readonly [number: number]: string };

export type TouchpointType =
  | 'TOUCHPOINT_TYPE_UNSPECIFIED'
  | 'AD_IMPRESSION'
  | 'AD_CLICK'
  | 'SITE_VISIT'
  | 'PAGE_VIEW'
  | 'CONTENT_VIEW'
  | 'SOCIAL_MENTION'
  | 'SIGNUP'
  | 'PRICING_VIEW'
  | 'DEMO_REQUEST'
  | 'ADD_TO_CART'
  | 'REMOVE_FROM_CART'
  | 'CHECKOUT_STARTED'
  | 'PURCHASE'
  | 'REFUND'
  | 'REFERRAL'
  | 'REVIEW'
  | 'EMAIL_OPEN'
  | 'EMAIL_CLICK'
  | 'APP_OPEN'
  | 'MESSAGE_SENT'
  | 'SUPPORT_TICKET'
  | 'BILLING_ISSUE'
  | 'ONBOARDING_COMPLETED'
  | 'USAGE_LIMIT_REACHED'
  | 'STORE_VISIT'
  | 'CANCELLATION'
  | 'FEEDBACK'
  | 'CUSTOM';
export declare const TouchpointType: Readonly<Record<TouchpointType, number>> & { readonly [number: number]: string };

export type Channel =
  | 'CHANNEL_UNSPECIFIED'
  | 'DIRECT'
  | 'PAID_ADS'
  | 'ORGANIC_SEARCH'
  | 'ORGANIC_SOCIAL'
  | 'EMAIL'
  | 'APP_NOTIFICATION'
  | 'IN_APP'
  | 'LIVE_CHAT'
  | 'REFERRAL_LINK'
  | 'STORE'
  | 'SUPPORT'
  | 'SMS';
export declare const Channel: Readonly<Record<Channel, number>> & { readonly [number: number]: string };

export type Stage =
  | 'STAGE_UNSPECIFIED'
  | 'REACH'
  | 'ACQUISITION'
  | 'NURTURE'
  | 'RETENTION'
  | 'ADVOCACY';
export declare const Stage: Readonly<Record<Stage, number>> & { readonly [number: number]: string };

export type Health =
  | 'HEALTH_UNSPECIFIED'
  | 'ACTIVE'
  | 'AT_RISK'
  | 'CHURNED';
export declare const Health: Readonly<Record<Health, number>> & { readonly [number: number]: string };

export type FunnelPosition =
  | 'FUNNEL_UNSPECIFIED'
  | 'TOP'
  | 'MIDDLE'
  | 'BOTTOM';
export declare const FunnelPosition: Readonly<Record<FunnelPosition, number>> & { readonly [number: number]: string };

export type RiskReason =
  | 'RISK_REASON_UNSPECIFIED'
  | 'INACTIVE'
  | 'RECENT_BILLING_ISSUE'
  | 'SUPPORT_TICKETS'
  | 'NEGATIVE_SENTIMENT'
  | 'RECENT_REFUND'
  | 'SLOW_ONBOARDING'
  | 'SUBSCRIPTION_CANCELLED';
export declare const RiskReason: Readonly<Record<RiskReason, number>> & { readonly [number: number]: string };

export type RecommendationKind =
  | 'RECOMMENDATION_KIND_UNSPECIFIED'
  | 'NEXT_BEST_ACTION'
  | 'CROSS_SELL'
  | 'UPSELL'
  | 'CART_REMINDER'
  | 'WIN_BACK'
  | 'GEO_OFFER'
  | 'FEEDBACK_REQUEST'
  | 'LOYALTY_REWARD'
  | 'REFERRAL_INCENTIVE';
export declare const RecommendationKind: Readonly<Record<RecommendationKind, number>> & { readonly [number: number]: string };

export type Granularity =
  | 'GRANULARITY_UNSPECIFIED'
  | 'DAY'
  | 'WEEK'
  | 'MONTH';
export declare const Granularity: Readonly<Record<Granularity, number>> & { readonly [number: number]: string };

export type LifecycleEventKind =
  | 'LIFECYCLE_EVENT_KIND_UNSPECIFIED'
  | 'STAGE_CHANGED'
  | 'RISK_SIGNAL'
  | 'SEGMENT_ENTERED'
  | 'SEGMENT_EXITED'
  | 'JOURNEY_MESSAGE';
export declare const LifecycleEventKind: Readonly<Record<LifecycleEventKind, number>> & { readonly [number: number]: string };

export interface Request {
  requestId: string;
  authToken: string;
  deadlineMs: number;
  minPosition: number;
  track: TrackRequest | null;
  getCustomer: GetCustomerRequest | null;
  recommend: RecommendRequest | null;
  metrics: MetricsRequest | null;
  cohorts: CohortRequest | null;
  putCatalog: PutCatalogRequest | null;
  recordSpend: RecordSpendRequest | null;
  identify: IdentifyRequest | null;
  defineExperiment: DefineExperimentRequest | null;
  assign: AssignRequest | null;
  experimentResults: ExperimentResultsRequest | null;
  forgetCustomer: ForgetCustomerRequest | null;
  exportCustomer: ExportCustomerRequest | null;
  defineSegment: DefineSegmentRequest | null;
  getSegment: GetSegmentRequest | null;
  listSegments: ListSegmentsRequest | null;
  deleteSegment: DeleteSegmentRequest | null;
  defineJourney: DefineJourneyRequest | null;
  listJourneys: ListJourneysRequest | null;
  getJourney: GetJourneyRequest | null;
  serverStatus: StatusRequest | null;
  deleteJourney: DeleteJourneyRequest | null;
  journeyMessages: JourneyMessagesRequest | null;
  /** Which field of oneof call is set. */
  call?: 'track' | 'getCustomer' | 'recommend' | 'metrics' | 'cohorts' | 'putCatalog' | 'recordSpend' | 'identify' | 'defineExperiment' | 'assign' | 'experimentResults' | 'forgetCustomer' | 'exportCustomer' | 'defineSegment' | 'getSegment' | 'listSegments' | 'deleteSegment' | 'defineJourney' | 'listJourneys' | 'getJourney' | 'serverStatus' | 'deleteJourney' | 'journeyMessages';
}
export interface RequestInput {
  requestId?: string | null;
  authToken?: string | null;
  deadlineMs?: number | null;
  minPosition?: number | bigint | string | Date | null;
  track?: TrackRequestInput | null;
  getCustomer?: GetCustomerRequestInput | null;
  recommend?: RecommendRequestInput | null;
  metrics?: MetricsRequestInput | null;
  cohorts?: CohortRequestInput | null;
  putCatalog?: PutCatalogRequestInput | null;
  recordSpend?: RecordSpendRequestInput | null;
  identify?: IdentifyRequestInput | null;
  defineExperiment?: DefineExperimentRequestInput | null;
  assign?: AssignRequestInput | null;
  experimentResults?: ExperimentResultsRequestInput | null;
  forgetCustomer?: ForgetCustomerRequestInput | null;
  exportCustomer?: ExportCustomerRequestInput | null;
  defineSegment?: DefineSegmentRequestInput | null;
  getSegment?: GetSegmentRequestInput | null;
  listSegments?: ListSegmentsRequestInput | null;
  deleteSegment?: DeleteSegmentRequestInput | null;
  defineJourney?: DefineJourneyRequestInput | null;
  listJourneys?: ListJourneysRequestInput | null;
  getJourney?: GetJourneyRequestInput | null;
  serverStatus?: StatusRequestInput | null;
  deleteJourney?: DeleteJourneyRequestInput | null;
  journeyMessages?: JourneyMessagesRequestInput | null;
}

export interface Response {
  requestId: string;
  status: Status | null;
  position: number;
  track: TrackReply | null;
  customer: Customer | null;
  recommend: RecommendReply | null;
  metrics: MetricsReply | null;
  cohorts: CohortReply | null;
  putCatalog: PutCatalogReply | null;
  recordSpend: RecordSpendReply | null;
  identify: IdentifyReply | null;
  defineExperiment: DefineExperimentReply | null;
  assign: AssignReply | null;
  experimentResults: ExperimentResultsReply | null;
  forgetCustomer: ForgetCustomerReply | null;
  exportCustomer: ExportCustomerReply | null;
  defineSegment: DefineSegmentReply | null;
  getSegment: GetSegmentReply | null;
  listSegments: ListSegmentsReply | null;
  deleteSegment: DeleteSegmentReply | null;
  defineJourney: DefineJourneyReply | null;
  listJourneys: ListJourneysReply | null;
  getJourney: GetJourneyReply | null;
  serverStatus: StatusReply | null;
  deleteJourney: DeleteJourneyReply | null;
  journeyMessages: JourneyMessagesReply | null;
  /** Which field of oneof result is set. */
  result?: 'track' | 'customer' | 'recommend' | 'metrics' | 'cohorts' | 'putCatalog' | 'recordSpend' | 'identify' | 'defineExperiment' | 'assign' | 'experimentResults' | 'forgetCustomer' | 'exportCustomer' | 'defineSegment' | 'getSegment' | 'listSegments' | 'deleteSegment' | 'defineJourney' | 'listJourneys' | 'getJourney' | 'serverStatus' | 'deleteJourney' | 'journeyMessages';
}
export interface ResponseInput {
  requestId?: string | null;
  status?: StatusInput | null;
  position?: number | bigint | string | Date | null;
  track?: TrackReplyInput | null;
  customer?: CustomerInput | null;
  recommend?: RecommendReplyInput | null;
  metrics?: MetricsReplyInput | null;
  cohorts?: CohortReplyInput | null;
  putCatalog?: PutCatalogReplyInput | null;
  recordSpend?: RecordSpendReplyInput | null;
  identify?: IdentifyReplyInput | null;
  defineExperiment?: DefineExperimentReplyInput | null;
  assign?: AssignReplyInput | null;
  experimentResults?: ExperimentResultsReplyInput | null;
  forgetCustomer?: ForgetCustomerReplyInput | null;
  exportCustomer?: ExportCustomerReplyInput | null;
  defineSegment?: DefineSegmentReplyInput | null;
  getSegment?: GetSegmentReplyInput | null;
  listSegments?: ListSegmentsReplyInput | null;
  deleteSegment?: DeleteSegmentReplyInput | null;
  defineJourney?: DefineJourneyReplyInput | null;
  listJourneys?: ListJourneysReplyInput | null;
  getJourney?: GetJourneyReplyInput | null;
  serverStatus?: StatusReplyInput | null;
  deleteJourney?: DeleteJourneyReplyInput | null;
  journeyMessages?: JourneyMessagesReplyInput | null;
}

export interface FieldViolation {
  field: string;
  description: string;
}
export interface FieldViolationInput {
  field?: string | null;
  description?: string | null;
}

export interface Status {
  code: Code;
  message: string;
  violations: FieldViolation[];
}
export interface StatusInput {
  code?: Code | number | null;
  message?: string | null;
  violations?: Array<FieldViolationInput> | null;
}

export interface GeoPoint {
  lat: number;
  lon: number;
}
export interface GeoPointInput {
  lat?: number | null;
  lon?: number | null;
}

export interface Touchpoint {
  eventId: string;
  customerId: string;
  anonymousId: string;
  type: TouchpointType;
  channel: Channel;
  occurredAtMs: number;
  itemId: string;
  value: number;
  currency: string;
  durationS: number;
  sentiment: number;
  location: GeoPoint | null;
  campaign: string;
  properties: { [key: string]: string };
  eventName: string;
  orderItems: string[];
}
export interface TouchpointInput {
  eventId?: string | null;
  customerId?: string | null;
  anonymousId?: string | null;
  type?: TouchpointType | number | null;
  channel?: Channel | number | null;
  occurredAtMs?: number | bigint | string | Date | null;
  itemId?: string | null;
  value?: number | null;
  currency?: string | null;
  durationS?: number | null;
  sentiment?: number | null;
  location?: GeoPointInput | null;
  campaign?: string | null;
  properties?: { [key: string]: string } | Map<string, string> | null;
  eventName?: string | null;
  orderItems?: Array<string> | null;
}

export interface TrackRequest {
  touchpoints: Touchpoint[];
}
export interface TrackRequestInput {
  touchpoints?: Array<TouchpointInput> | null;
}

export interface ItemError {
  index: number;
  status: Status | null;
}
export interface ItemErrorInput {
  index?: number | null;
  status?: StatusInput | null;
}

export interface TrackReply {
  accepted: number;
  duplicates: number;
  rejected: ItemError[];
  changes: LifecycleEvent[];
}
export interface TrackReplyInput {
  accepted?: number | null;
  duplicates?: number | null;
  rejected?: Array<ItemErrorInput> | null;
  changes?: Array<LifecycleEventInput> | null;
}

export interface GetCustomerRequest {
  customerId: string;
  asOfMs: number;
}
export interface GetCustomerRequestInput {
  customerId?: string | null;
  asOfMs?: number | bigint | string | Date | null;
}

export interface StageEntry {
  stage: Stage;
  enteredAtMs: number;
}
export interface StageEntryInput {
  stage?: Stage | number | null;
  enteredAtMs?: number | bigint | string | Date | null;
}

export interface TypeCount {
  type: TouchpointType;
  count: number;
}
export interface TypeCountInput {
  type?: TouchpointType | number | null;
  count?: number | bigint | string | Date | null;
}

export interface Customer {
  customerId: string;
  stage: Stage;
  health: Health;
  funnel: FunnelPosition;
  churnRisk: number;
  riskReasons: RiskReason[];
  stageHistory: StageEntry[];
  firstSeenMs: number;
  lastSeenMs: number;
  purchases: number;
  refunds: number;
  referrals: number;
  revenue: number;
  acquisitionChannel: Channel;
  conversionChannel: Channel;
  cartItems: string[];
  touchCounts: TypeCount[];
  anonymousIds: string[];
  asOfMs: number;
  traits: { [key: string]: string };
  segments: string[];
}
export interface CustomerInput {
  customerId?: string | null;
  stage?: Stage | number | null;
  health?: Health | number | null;
  funnel?: FunnelPosition | number | null;
  churnRisk?: number | null;
  riskReasons?: Array<RiskReason | number> | null;
  stageHistory?: Array<StageEntryInput> | null;
  firstSeenMs?: number | bigint | string | Date | null;
  lastSeenMs?: number | bigint | string | Date | null;
  purchases?: number | null;
  refunds?: number | null;
  referrals?: number | null;
  revenue?: number | null;
  acquisitionChannel?: Channel | number | null;
  conversionChannel?: Channel | number | null;
  cartItems?: Array<string> | null;
  touchCounts?: Array<TypeCountInput> | null;
  anonymousIds?: Array<string> | null;
  asOfMs?: number | bigint | string | Date | null;
  traits?: { [key: string]: string } | Map<string, string> | null;
  segments?: Array<string> | null;
}

export interface RecommendRequest {
  customerId: string;
  limit: number;
  location: GeoPoint | null;
  cartItems: string[];
  channel: Channel;
  nowMs: number;
  includeSuppressed: boolean;
  claim: boolean;
}
export interface RecommendRequestInput {
  customerId?: string | null;
  limit?: number | null;
  location?: GeoPointInput | null;
  cartItems?: Array<string> | null;
  channel?: Channel | number | null;
  nowMs?: number | bigint | string | Date | null;
  includeSuppressed?: boolean | null;
  claim?: boolean | null;
}

export interface Recommendation {
  kind: RecommendationKind;
  action: string;
  channel: Channel;
  itemId: string;
  score: number;
  reason: string;
  suppressed: boolean;
  suppressedReason: string;
  discountPct: number;
  storeId: string;
}
export interface RecommendationInput {
  kind?: RecommendationKind | number | null;
  action?: string | null;
  channel?: Channel | number | null;
  itemId?: string | null;
  score?: number | null;
  reason?: string | null;
  suppressed?: boolean | null;
  suppressedReason?: string | null;
  discountPct?: number | null;
  storeId?: string | null;
}

export interface RecommendReply {
  recommendations: Recommendation[];
  stage: Stage;
  health: Health;
}
export interface RecommendReplyInput {
  recommendations?: Array<RecommendationInput> | null;
  stage?: Stage | number | null;
  health?: Health | number | null;
}

export interface MetricsRequest {
  fromMs: number;
  toMs: number;
  conversionWindowDays: number;
  channel: Channel;
}
export interface MetricsRequestInput {
  fromMs?: number | bigint | string | Date | null;
  toMs?: number | bigint | string | Date | null;
  conversionWindowDays?: number | null;
  channel?: Channel | number | null;
}

export interface StageMetric {
  stage: Stage;
  current: number;
  entered: number;
  atRisk: number;
  churned: number;
  dropOffRate: number;
}
export interface StageMetricInput {
  stage?: Stage | number | null;
  current?: number | bigint | string | Date | null;
  entered?: number | bigint | string | Date | null;
  atRisk?: number | bigint | string | Date | null;
  churned?: number | bigint | string | Date | null;
  dropOffRate?: number | null;
}

export interface Conversion {
  fromStage: Stage;
  toStage: Stage;
  cohort: number;
  converted: number;
  rate: number;
}
export interface ConversionInput {
  fromStage?: Stage | number | null;
  toStage?: Stage | number | null;
  cohort?: number | bigint | string | Date | null;
  converted?: number | bigint | string | Date | null;
  rate?: number | null;
}

export interface ChannelMetric {
  channel: Channel;
  spend: number;
  newVisitors: number;
  newCustomersFirstTouch: number;
  newCustomersLastTouch: number;
  cac: number;
  costPerVisitor: number;
}
export interface ChannelMetricInput {
  channel?: Channel | number | null;
  spend?: number | null;
  newVisitors?: number | bigint | string | Date | null;
  newCustomersFirstTouch?: number | bigint | string | Date | null;
  newCustomersLastTouch?: number | bigint | string | Date | null;
  cac?: number | null;
  costPerVisitor?: number | null;
}

export interface SentimentMetric {
  positive: number;
  neutral: number;
  negative: number;
  negativeShare: number;
}
export interface SentimentMetricInput {
  positive?: number | bigint | string | Date | null;
  neutral?: number | bigint | string | Date | null;
  negative?: number | bigint | string | Date | null;
  negativeShare?: number | null;
}

export interface MetricsReply {
  stages: StageMetric[];
  conversions: Conversion[];
  retentionRate: number;
  repeatCustomerRate: number;
  referralRate: number;
  churnRate: number;
  revenue: number;
  orders: number;
  averageOrderValue: number;
  refundsValue: number;
  ltv: number;
  adImpressions: number;
  adClicks: number;
  clickThroughRate: number;
  siteVisits: number;
  uniqueVisitors: number;
  pageViews: number;
  pageViewsPerVisitor: number;
  avgTimeOnSiteS: number;
  channels: ChannelMetric[];
  sentiment: SentimentMetric | null;
  supportTickets: number;
  billingIssues: number;
  customers: number;
}
export interface MetricsReplyInput {
  stages?: Array<StageMetricInput> | null;
  conversions?: Array<ConversionInput> | null;
  retentionRate?: number | null;
  repeatCustomerRate?: number | null;
  referralRate?: number | null;
  churnRate?: number | null;
  revenue?: number | null;
  orders?: number | bigint | string | Date | null;
  averageOrderValue?: number | null;
  refundsValue?: number | null;
  ltv?: number | null;
  adImpressions?: number | bigint | string | Date | null;
  adClicks?: number | bigint | string | Date | null;
  clickThroughRate?: number | null;
  siteVisits?: number | bigint | string | Date | null;
  uniqueVisitors?: number | bigint | string | Date | null;
  pageViews?: number | bigint | string | Date | null;
  pageViewsPerVisitor?: number | null;
  avgTimeOnSiteS?: number | null;
  channels?: Array<ChannelMetricInput> | null;
  sentiment?: SentimentMetricInput | null;
  supportTickets?: number | bigint | string | Date | null;
  billingIssues?: number | bigint | string | Date | null;
  customers?: number | bigint | string | Date | null;
}

export interface CohortRequest {
  fromMs: number;
  toMs: number;
  granularity: Granularity;
  periods: number;
}
export interface CohortRequestInput {
  fromMs?: number | bigint | string | Date | null;
  toMs?: number | bigint | string | Date | null;
  granularity?: Granularity | number | null;
  periods?: number | null;
}

export interface CohortRow {
  cohortStartMs: number;
  size: number;
  retained: number[];
}
export interface CohortRowInput {
  cohortStartMs?: number | bigint | string | Date | null;
  size?: number | bigint | string | Date | null;
  retained?: Array<number> | null;
}

export interface CohortReply {
  rows: CohortRow[];
  granularity: Granularity;
}
export interface CohortReplyInput {
  rows?: Array<CohortRowInput> | null;
  granularity?: Granularity | number | null;
}

export interface Item {
  itemId: string;
  name: string;
  category: string;
  price: number;
  upgradeTo: string;
}
export interface ItemInput {
  itemId?: string | null;
  name?: string | null;
  category?: string | null;
  price?: number | null;
  upgradeTo?: string | null;
}

export interface Store {
  storeId: string;
  name: string;
  location: GeoPoint | null;
  radiusM: number;
  discountPct: number;
}
export interface StoreInput {
  storeId?: string | null;
  name?: string | null;
  location?: GeoPointInput | null;
  radiusM?: number | null;
  discountPct?: number | null;
}

export interface PutCatalogRequest {
  items: Item[];
  stores: Store[];
}
export interface PutCatalogRequestInput {
  items?: Array<ItemInput> | null;
  stores?: Array<StoreInput> | null;
}

export interface PutCatalogReply {
  items: number;
  stores: number;
}
export interface PutCatalogReplyInput {
  items?: number | null;
  stores?: number | null;
}

export interface Spend {
  channel: Channel;
  dayMs: number;
  amount: number;
  currency: string;
  campaign: string;
}
export interface SpendInput {
  channel?: Channel | number | null;
  dayMs?: number | bigint | string | Date | null;
  amount?: number | null;
  currency?: string | null;
  campaign?: string | null;
}

export interface RecordSpendRequest {
  spend: Spend[];
}
export interface RecordSpendRequestInput {
  spend?: Array<SpendInput> | null;
}

export interface RecordSpendReply {
  accepted: number;
}
export interface RecordSpendReplyInput {
  accepted?: number | null;
}

export interface IdentifyRequest {
  anonymousId: string;
  customerId: string;
  traits: { [key: string]: string };
}
export interface IdentifyRequestInput {
  anonymousId?: string | null;
  customerId?: string | null;
  traits?: { [key: string]: string } | Map<string, string> | null;
}

export interface IdentifyReply {
  customer: Customer | null;
  merged: boolean;
}
export interface IdentifyReplyInput {
  customer?: CustomerInput | null;
  merged?: boolean | null;
}

export interface Variant {
  name: string;
  weight: number;
}
export interface VariantInput {
  name?: string | null;
  weight?: number | null;
}

export interface DefineExperimentRequest {
  experimentId: string;
  variants: Variant[];
  goal: TouchpointType;
}
export interface DefineExperimentRequestInput {
  experimentId?: string | null;
  variants?: Array<VariantInput> | null;
  goal?: TouchpointType | number | null;
}

export interface DefineExperimentReply {
  experimentId: string;
}
export interface DefineExperimentReplyInput {
  experimentId?: string | null;
}

export interface AssignRequest {
  experimentId: string;
  customerId: string;
}
export interface AssignRequestInput {
  experimentId?: string | null;
  customerId?: string | null;
}

export interface AssignReply {
  variant: string;
  firstExposure: boolean;
}
export interface AssignReplyInput {
  variant?: string | null;
  firstExposure?: boolean | null;
}

export interface ExperimentResultsRequest {
  experimentId: string;
}
export interface ExperimentResultsRequestInput {
  experimentId?: string | null;
}

export interface VariantResult {
  name: string;
  exposed: number;
  converted: number;
  rate: number;
  lift: number;
  pValue: number;
  ciLow: number;
  ciHigh: number;
}
export interface VariantResultInput {
  name?: string | null;
  exposed?: number | bigint | string | Date | null;
  converted?: number | bigint | string | Date | null;
  rate?: number | null;
  lift?: number | null;
  pValue?: number | null;
  ciLow?: number | null;
  ciHigh?: number | null;
}

export interface ExperimentResultsReply {
  experimentId: string;
  variants: VariantResult[];
}
export interface ExperimentResultsReplyInput {
  experimentId?: string | null;
  variants?: Array<VariantResultInput> | null;
}

export interface ForgetCustomerRequest {
  customerId: string;
}
export interface ForgetCustomerRequestInput {
  customerId?: string | null;
}

export interface ForgetCustomerReply {
  touchpointsDeleted: number;
  existed: boolean;
}
export interface ForgetCustomerReplyInput {
  touchpointsDeleted?: number | bigint | string | Date | null;
  existed?: boolean | null;
}

export interface ExportCustomerRequest {
  customerId: string;
}
export interface ExportCustomerRequestInput {
  customerId?: string | null;
}

export interface ExportCustomerReply {
  customer: Customer | null;
  touchpoints: Touchpoint[];
}
export interface ExportCustomerReplyInput {
  customer?: CustomerInput | null;
  touchpoints?: Array<TouchpointInput> | null;
}

export interface StatusRequest {
}
export interface StatusRequestInput {
}

export interface StatusReply {
  version: string;
  uptimeS: number;
  customers: number;
  touchpoints: number;
  dbBytes: number;
  mapBytes: number;
  durability: string;
  writeTransactions: number;
  writeRequests: number;
  checkpointPosition: number;
  journal: string;
  streamPosition: number;
}
export interface StatusReplyInput {
  version?: string | null;
  uptimeS?: number | bigint | string | Date | null;
  customers?: number | bigint | string | Date | null;
  touchpoints?: number | bigint | string | Date | null;
  dbBytes?: number | bigint | string | Date | null;
  mapBytes?: number | bigint | string | Date | null;
  durability?: string | null;
  writeTransactions?: number | bigint | string | Date | null;
  writeRequests?: number | bigint | string | Date | null;
  checkpointPosition?: number | bigint | string | Date | null;
  journal?: string | null;
  streamPosition?: number | bigint | string | Date | null;
}

export interface LifecycleEvent {
  kind: LifecycleEventKind;
  customerId: string;
  fromStage: Stage;
  toStage: Stage;
  reason: RiskReason;
  atMs: number;
  eventId: string;
  seq: number;
  segment: string;
  journey: string;
  step: number;
  recommendationKind: RecommendationKind;
  action: string;
  channel: Channel;
  item: string;
  messageId: string;
  position: number;
}
export interface LifecycleEventInput {
  kind?: LifecycleEventKind | number | null;
  customerId?: string | null;
  fromStage?: Stage | number | null;
  toStage?: Stage | number | null;
  reason?: RiskReason | number | null;
  atMs?: number | bigint | string | Date | null;
  eventId?: string | null;
  seq?: number | bigint | string | Date | null;
  segment?: string | null;
  journey?: string | null;
  step?: number | null;
  recommendationKind?: RecommendationKind | number | null;
  action?: string | null;
  channel?: Channel | number | null;
  item?: string | null;
  messageId?: string | null;
  position?: number | bigint | string | Date | null;
}

export interface Segment {
  name: string;
  expression: string;
  count: number;
  backfilling: boolean;
  backfillProgress: number;
  definedAtMs: number;
}
export interface SegmentInput {
  name?: string | null;
  expression?: string | null;
  count?: number | bigint | string | Date | null;
  backfilling?: boolean | null;
  backfillProgress?: number | null;
  definedAtMs?: number | bigint | string | Date | null;
}

export interface DefineSegmentRequest {
  name: string;
  expression: string;
}
export interface DefineSegmentRequestInput {
  name?: string | null;
  expression?: string | null;
}

export interface DefineSegmentReply {
  segment: Segment | null;
  replaced: boolean;
}
export interface DefineSegmentReplyInput {
  segment?: SegmentInput | null;
  replaced?: boolean | null;
}

export interface GetSegmentRequest {
  name: string;
  members: boolean;
  pageSize: number;
  pageToken: string;
  includeCustomers: boolean;
  asOfMs: number;
}
export interface GetSegmentRequestInput {
  name?: string | null;
  members?: boolean | null;
  pageSize?: number | null;
  pageToken?: string | null;
  includeCustomers?: boolean | null;
  asOfMs?: number | bigint | string | Date | null;
}

export interface GetSegmentReply {
  segment: Segment | null;
  members: string[];
  nextPageToken: string;
  customers: Customer[];
  asOfMs: number;
}
export interface GetSegmentReplyInput {
  segment?: SegmentInput | null;
  members?: Array<string> | null;
  nextPageToken?: string | null;
  customers?: Array<CustomerInput> | null;
  asOfMs?: number | bigint | string | Date | null;
}

export interface ListSegmentsRequest {
}
export interface ListSegmentsRequestInput {
}

export interface ListSegmentsReply {
  segments: Segment[];
}
export interface ListSegmentsReplyInput {
  segments?: Array<SegmentInput> | null;
}

export interface DeleteSegmentRequest {
  name: string;
}
export interface DeleteSegmentRequestInput {
  name?: string | null;
}

export interface DeleteSegmentReply {
  existed: boolean;
}
export interface DeleteSegmentReplyInput {
  existed?: boolean | null;
}

export interface JourneyStepStats {
  step: number;
  sent: number;
  skippedCondition: number;
  skippedCapped: number;
  skippedLate: number;
  waiting: number;
}
export interface JourneyStepStatsInput {
  step?: number | null;
  sent?: number | bigint | string | Date | null;
  skippedCondition?: number | bigint | string | Date | null;
  skippedCapped?: number | bigint | string | Date | null;
  skippedLate?: number | bigint | string | Date | null;
  waiting?: number | bigint | string | Date | null;
}

export interface JourneyStats {
  entered: number;
  active: number;
  exited: number;
  completed: number;
  steps: JourneyStepStats[];
  webhookDelivered: number;
  webhookPending: number;
  webhookRetries: number;
  webhookDead: number;
  removed: number;
}
export interface JourneyStatsInput {
  entered?: number | bigint | string | Date | null;
  active?: number | bigint | string | Date | null;
  exited?: number | bigint | string | Date | null;
  completed?: number | bigint | string | Date | null;
  steps?: Array<JourneyStepStatsInput> | null;
  webhookDelivered?: number | bigint | string | Date | null;
  webhookPending?: number | bigint | string | Date | null;
  webhookRetries?: number | bigint | string | Date | null;
  webhookDead?: number | bigint | string | Date | null;
  removed?: number | bigint | string | Date | null;
}

export interface Journey {
  name: string;
  definition: string;
  definedAtMs: number;
  stats: JourneyStats | null;
  createdAtMs: number;
}
export interface JourneyInput {
  name?: string | null;
  definition?: string | null;
  definedAtMs?: number | bigint | string | Date | null;
  stats?: JourneyStatsInput | null;
  createdAtMs?: number | bigint | string | Date | null;
}

export interface DefineJourneyRequest {
  definition: string;
}
export interface DefineJourneyRequestInput {
  definition?: string | null;
}

export interface DefineJourneyReply {
  journey: Journey | null;
  replaced: boolean;
}
export interface DefineJourneyReplyInput {
  journey?: JourneyInput | null;
  replaced?: boolean | null;
}

export interface ListJourneysRequest {
}
export interface ListJourneysRequestInput {
}

export interface ListJourneysReply {
  journeys: Journey[];
}
export interface ListJourneysReplyInput {
  journeys?: Array<JourneyInput> | null;
}

export interface GetJourneyRequest {
  name: string;
}
export interface GetJourneyRequestInput {
  name?: string | null;
}

export interface GetJourneyReply {
  journey: Journey | null;
}
export interface GetJourneyReplyInput {
  journey?: JourneyInput | null;
}

export interface DeleteJourneyRequest {
  name: string;
}
export interface DeleteJourneyRequestInput {
  name?: string | null;
}

export interface DeleteJourneyReply {
  existed: boolean;
}
export interface DeleteJourneyReplyInput {
  existed?: boolean | null;
}

export interface JourneyMessagesRequest {
  after: number;
  limit: number;
  journey: string;
}
export interface JourneyMessagesRequestInput {
  after?: number | bigint | string | Date | null;
  limit?: number | null;
  journey?: string | null;
}

export interface JourneyMessagesReply {
  messages: LifecycleEvent[];
  nextAfter: number;
  oldest: number;
  last: number;
}
export interface JourneyMessagesReplyInput {
  messages?: Array<LifecycleEventInput> | null;
  nextAfter?: number | bigint | string | Date | null;
  oldest?: number | bigint | string | Date | null;
  last?: number | bigint | string | Date | null;
}

// ---------------------------------------------------------------------------
// The client (lib/client.js, lib/watch.js, lib/errors.js).

export interface CallOptions {
  /** Per call: queueing, connecting and resends included. */
  timeoutMs?: number;
  /** Request.request_id (default: a fresh one per call). */
  requestId?: string;
  /** Request.deadline_ms: a write not applied in time is not applied. */
  deadlineMs?: number;
  /**
   * Request.min_position: answered only once the node has applied this
   * position (for deadlineMs, or 1 s; then ClmError UNAVAILABLE "not caught
   * up"). Default: lastPosition with readYourWrites, else none.
   */
  minPosition?: number;
}

export interface ClientOptions {
  /** Per call, queueing and reconnecting included (default 10000). */
  timeoutMs?: number;
  /** Sent as auth_token with every request (clmd --auth-token-file). */
  token?: string;
  /** Request.deadline_ms for every call (default 0: none). */
  deadlineMs?: number;
  /** Resend a request whose connection broke before the reply (default true). */
  retry?: boolean;
  /**
   * Give each touchpoint without an eventId a random UUID in track(), so a
   * resent Track is counted once (default true).
   */
  autoEventId?: boolean;
  /** How replies show enums (default 'name'). */
  enums?: 'name' | 'number';
  /** tls.connect options (ca, cert, key, ...) for tls+tcp:// URLs. */
  tls?: import('tls').ConnectionOptions;
  /** Largest reply accepted, in bytes (default 256 MiB). */
  maxMessageBytes?: number;
  /**
   * Send lastPosition as Request.min_position of every call that gives
   * none, to read this client's own writes on any node (default false).
   */
  readYourWrites?: boolean;
  url?: string;
}

export declare class Client {
  constructor(url?: string, opts?: ClientOptions);
  constructor(opts: ClientOptions);
  readonly url: string;
  timeoutMs: number;
  token: string;
  /** The largest Response.position of any reply so far (0: none). */
  lastPosition: number;
  readYourWrites: boolean;
  track(touchpoints: TouchpointInput | TouchpointInput[], opts?: CallOptions): Promise<TrackReply>;
  customer(customerId: string, opts?: ({ asOfMs?: number | Date } & CallOptions) | number | Date): Promise<Customer>;
  identify(anonymousId: string, customerId: string, traits?: { [key: string]: string | number | boolean } | null, opts?: CallOptions): Promise<IdentifyReply>;
  recommend(customerId: string, opts?: Omit<RecommendRequestInput, 'customerId'> & CallOptions): Promise<RecommendReply>;
  metrics(opts?: MetricsRequestInput & CallOptions): Promise<MetricsReply>;
  cohorts(opts?: CohortRequestInput & CallOptions): Promise<CohortReply>;
  recordSpend(entries: SpendInput | SpendInput[], opts?: CallOptions): Promise<RecordSpendReply>;
  putCatalog(catalog: { items?: ItemInput[]; stores?: StoreInput[] }, opts?: CallOptions): Promise<PutCatalogReply>;
  defineExperiment(experimentId: string, variants: VariantInput[] | { [name: string]: number }, goal: TouchpointType | number, opts?: CallOptions): Promise<DefineExperimentReply>;
  assign(experimentId: string, customerId: string, opts?: CallOptions): Promise<AssignReply>;
  experimentResults(experimentId: string, opts?: CallOptions): Promise<ExperimentResultsReply>;
  defineSegment(name: string, expression: string, opts?: CallOptions): Promise<DefineSegmentReply>;
  getSegment(name: string, opts?: Omit<GetSegmentRequestInput, 'name'> & CallOptions): Promise<GetSegmentReply>;
  segmentMembers(name: string, opts?: { pageSize?: number; asOfMs?: number | Date } & CallOptions): AsyncIterableIterator<string>;
  listSegments(opts?: CallOptions): Promise<ListSegmentsReply>;
  deleteSegment(name: string, opts?: CallOptions): Promise<DeleteSegmentReply>;
  defineJourney(definition: string | object, opts?: CallOptions): Promise<DefineJourneyReply>;
  listJourneys(opts?: CallOptions): Promise<ListJourneysReply>;
  getJourney(name: string, opts?: CallOptions): Promise<GetJourneyReply>;
  deleteJourney(name: string, opts?: CallOptions): Promise<DeleteJourneyReply>;
  journeyMessages(opts?: JourneyMessagesRequestInput & CallOptions): Promise<JourneyMessagesReply>;
  iterJourneyMessages(opts?: { after?: number; journey?: string; pageSize?: number } & CallOptions): AsyncIterableIterator<LifecycleEvent>;
  forget(customerId: string, opts?: CallOptions): Promise<ForgetCustomerReply>;
  export(customerId: string, opts?: CallOptions): Promise<ExportCustomerReply>;
  status(opts?: CallOptions): Promise<StatusReply>;
  /** A whole Request; resolves to the whole Response. */
  call(request: RequestInput, opts?: { timeoutMs?: number; check?: boolean }): Promise<Response>;
  close(): Promise<void>;
}

export interface StreamItem {
  topic: string;
  event: LifecycleEvent;
}

export interface WatchOptions {
  /** Reconnect after a broken connection (default true). */
  reconnect?: boolean;
  enums?: 'name' | 'number';
  /** Events buffered before the socket stops reading (default 1000). */
  highWaterMark?: number;
  /** Per connection attempt, and ready()'s default (default 5000). */
  connectTimeoutMs?: number;
  tls?: import('tls').ConnectionOptions;
  maxMessageBytes?: number;
}

export declare class Watcher implements AsyncIterableIterator<StreamItem> {
  constructor(url?: string, prefix?: string | string[], opts?: WatchOptions);
  readonly url: string;
  readonly prefixes: string[];
  readonly connected: boolean;
  readonly connections: number;
  ready(timeoutMs?: number): Promise<void>;
  next(): Promise<IteratorResult<StreamItem>>;
  nextWithin(timeoutMs: number): Promise<StreamItem | null>;
  return(): Promise<IteratorResult<StreamItem>>;
  [Symbol.asyncIterator](): Watcher;
  close(): void;
}

export declare function watch(url?: string, prefix?: string | string[], opts?: WatchOptions): Watcher;

export interface FieldViolationInfo {
  field: string;
  description: string;
}

export declare class ClmError extends Error {
  /** The gRPC-style code number (clm.v1.Code). */
  code: number;
  codeName: Code;
  violations: FieldViolationInfo[];
  requestId: string;
  readonly response: Response | null;
}

export declare class ClmConnectionError extends Error {
  /** ECONNREFUSED, ENOENT, ECONNRESET, ETIMEDOUT, EPROTO, EMSGSIZE, ECLOSED, ... */
  code: string;
  url: string;
}

export declare class ClmTimeoutError extends ClmConnectionError {}

export declare const DEFAULT_URL: string;
export declare const DEFAULT_EVENTS_URL: string;
export declare const root: import('protobufjs').Root;
export declare const protoPath: string;
export declare function encode(typeName: string, obj: object): Uint8Array;
export declare function decode(typeName: string, bytes: Uint8Array, enums?: 'name' | 'number'): any;
export declare function parseUrl(url: string): { kind: 'tcp' | 'tls' | 'ipc'; host?: string; port?: number; path?: string; url: string };
