/** The "same echo-like service" the peers' workers call: a bare node:http server answering `{}`. */
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
    res.end('{}');
  });
}).listen(port, '127.0.0.1', () => console.log('ready'));
