import { sql as initial } from "./001_initial.js";
import { sql as pipeline } from "./002_pipeline.js";
import { sql as buildInputs } from "./003_build_inputs.js";
import { sql as deployments } from "./004_deployments.js";
import { sql as passedTests } from "./005_passed_tests.js";
import { sql as webhookDeliveries } from "./006_webhook_deliveries.js";
import { sql as releasePlans } from "./007_release_plans.js";
import { sql as appConfig } from "./008_app_config.js";
import { sql as secrets } from "./009_secrets.js";
import { sql as tokens } from "./010_tokens.js";

/** Every migration in order; the position + 1 is the schema version it produces. */
export const migrations: readonly { name: string; sql: string }[] = [
  { name: "001_initial", sql: initial },
  { name: "002_pipeline", sql: pipeline },
  { name: "003_build_inputs", sql: buildInputs },
  { name: "004_deployments", sql: deployments },
  { name: "005_passed_tests", sql: passedTests },
  { name: "006_webhook_deliveries", sql: webhookDeliveries },
  { name: "007_release_plans", sql: releasePlans },
  { name: "008_app_config", sql: appConfig },
  { name: "009_secrets", sql: secrets },
  { name: "010_tokens", sql: tokens },
];
