// Swagger UI in a real browser: Debian's chromium driven by playwright-core.
// Opens /docs, authorizes with a bearer token, runs "Try it out" on GET /v1/contacts and
// expects the 200 to be rendered. Fails on any failed request and on any request to a host
// other than the server. Run through scripts/swagger-ui.sh, which sets RAPPORT_BASE and
// RAPPORT_TOKEN and PLAYWRIGHT_CORE.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// playwright-core lives in the script's tools directory, not beside this file.
const { chromium } = await import(process.env.PLAYWRIGHT_CORE ?? "playwright-core");

const base = process.env.RAPPORT_BASE;
const token = process.env.RAPPORT_TOKEN;
const origin = new URL(base).origin;
const profile = mkdtempSync(join(tmpdir(), "rapport-chromium-"));
const problems = [];
let requests = 0;

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
});
try {
  context.on("request", (request) => {
    requests += 1;
    const url = new URL(request.url());
    if (url.protocol !== "data:" && url.origin !== origin) {
      problems.push(`request to another host: ${request.url()}`);
    }
  });
  context.on("requestfailed", (request) =>
    problems.push(`failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`),
  );
  context.on("response", (response) => {
    if (response.status() >= 400) {
      problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
    }
  });

  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${base}/docs/`, { waitUntil: "networkidle" });
  await page.locator(".information-container .title").waitFor();

  await page.locator(".auth-wrapper .authorize").click();
  const modal = page.locator(".modal-ux");
  await modal.locator("input").first().fill(token);
  await modal.locator("button.authorize").first().click();
  await modal.locator("button.btn-done, button.close-modal").first().click();

  const operation = page.locator("#operations-contacts-list_contacts");
  await operation.locator(".opblock-summary").first().click();
  await operation.locator("button.try-out__btn").click();
  await operation.locator("button.execute").click();
  const status = operation.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor();
  const code = (await status.textContent()).trim();
  const body = await operation.locator(".live-responses-table .response-col_description pre").first().textContent();
  if (!code.startsWith("200")) problems.push(`Try it out answered ${code}`);
  if (!body.includes('"data"')) problems.push(`the rendered response lacks "data": ${body.slice(0, 200)}`);
  const sent = await operation.locator(".request-url pre, .curl-command").first().textContent();
  if (!sent.includes("/v1/contacts")) problems.push(`unexpected request shown: ${sent}`);

  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exitCode = 1;
  } else {
    console.log(
      `swagger-ui: /docs loaded, Authorize accepted the token, Try it out on GET /v1/contacts rendered ${code}; ` +
        `${requests} browser requests, all to ${origin}, none failed`,
    );
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
