/** The reproduce harness: an experiment driven through the engine API, kept out of src/core. */
export { runReproduce, readArchResults, archResultFile } from './run';
export { writeReports, renderMarkdown, toCsv, CSV_COLUMNS, FIGURE_FILE } from './report';
export { quickPlan, fullPlan, paperProtocol, ARCH_IDS, type ReproducePlan, type ArchPlan, type TaskPlan } from './plan';
export type { ArchResult, ResultRow } from './types';
