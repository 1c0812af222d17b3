// Starts GOV.UK Frontend's components. The pages work without it: every form posts and every link goes.
import { initAll } from "./govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
