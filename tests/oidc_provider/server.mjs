// A real OpenID Connect provider (panva/oidc-provider, OpenID certified) for the SSO tests.
// Configuration comes from the environment; the accounts are fixed test people. The login
// "interaction" signs in the account named by the standard login_hint parameter and records
// the authentication methods (amr) that account is set up with, so a test can ask for a
// sign-in with or without multi-factor.
import Provider from "oidc-provider";

const port = Number(process.env.PORT || 0);
const issuer = process.env.ISSUER;
const accounts = JSON.parse(process.env.ACCOUNTS || "{}");

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    token_endpoint_auth_method: "client_secret_post",
  }],
  pkce: { required: () => true },
  // Like Entra ID and Okta, the ID token always says how the person authenticated.
  claims: { amr: null, acr: null, openid: ["sub", "amr", "acr", "auth_time"], email: ["email", "email_verified"], profile: ["name"] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.test`, email_verified: true, name: id };
      },
    };
  },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60 },
});
provider.proxy = false;

const callback = provider.callback();
const server = (await import("node:http")).createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const accountId = details.params.login_hint;
    let result;
    if (details.prompt.name === "login") {
      const account = accounts[accountId];
      if (!account) {
        result = { error: "access_denied", error_description: "unknown test account" };
      } else {
        result = { login: { accountId, amr: account.amr, acr: account.acr } };
      }
    } else {
      const grant = new provider.Grant({ accountId: details.session.accountId,
                                         clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});
server.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});
