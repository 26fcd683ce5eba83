/** `piggyback reproduce`: the paper's comparison on real offline data (see ./run). */
export { runReproduce, snapshotFiles, CSV_COLUMNS } from './run';
export type { ReproduceConfig, ReproduceResult, ResultRow, ForgettingCheck, TuneResult, Investigation } from './run';
export { quickPlan, fullPlan } from './plan';
export type { ReproducePlan, TaskPlan, VariantPlan, MobilenetPlan, TunePlan, InvestigatePlan } from './plan';
export { renderMarkdown, toCsv, writeReports, writeReportsFromJson, taskGaps } from './report';
