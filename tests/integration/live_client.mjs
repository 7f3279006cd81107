// A browser-grade WebSocket client (Node's built-in, undici's WHATWG
// WebSocket): connects to the live endpoint, prints "open", then every message
// it receives on its own line, and exits after `count` messages or `timeout` ms.
const [url, count, timeout] = process.argv.slice(2);
const ws = new WebSocket(url);
let got = 0;
const timer = setTimeout(() => { console.log("timeout"); process.exit(2); }, Number(timeout));
ws.onopen = () => console.log("open");
ws.onmessage = (ev) => {
  console.log(ev.data);
  if (++got >= Number(count)) { clearTimeout(timer); ws.close(); }
};
ws.onclose = (ev) => { console.log(`closed ${ev.code}`); process.exit(got >= Number(count) ? 0 : 1); };
ws.onerror = () => { console.log("error"); };
