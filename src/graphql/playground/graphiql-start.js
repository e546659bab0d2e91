// Starts GraphiQL in the explorer page. Settings come from the page's JSON data block (never
// executed, so the Content-Security-Policy needs no inline script); React, ReactDOM and GraphiQL
// are the UMD globals loaded by the script tags before this one.
(() => {
  const settingsElement = document.getElementById('junction-playground-settings');
  const settings = JSON.parse(settingsElement ? settingsElement.textContent : '{}');

  // Radix dialogs (settings, shortcuts) add a <style> element; the bundle stamps it with this
  // nonce, which the page's style-src allows, so no 'unsafe-inline' is needed.
  globalThis.__webpack_nonce__ = settings.styleNonce;

  const endpoint = new URL(settings.endpoint, window.location.href);
  const subscriptions = new URL(endpoint);
  subscriptions.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  const fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: subscriptions.href });

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: settings.defaultQuery,
      defaultHeaders: settings.defaultHeaders,
      // A pre-filled demo token is shown, so the reader sees where it goes; never written to storage.
      defaultEditorToolsVisibility: settings.defaultHeaders ? 'headers' : false,
      shouldPersistHeaders: false,
    }),
  );
})();
