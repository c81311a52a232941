// aedes (npm `aedes`, installed next to this file by .ci/brokers.sh) on
// 127.0.0.1 at the port given as the only argument; profiles/aedes.yaml
// starts it. Usage: node .ci/brokers/aedes.js PORT
'use strict'
const net = require('node:net')
const path = require('node:path')
const { pathToFileURL } = require('node:url')

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node .ci/brokers/aedes.js PORT')
  process.exit(2)
}

async function main () {
  // AEDES_DIR: where `npm install --prefix` put aedes; default: beside this file.
  const dir = process.env.AEDES_DIR || __dirname
  const entry = require.resolve('aedes', { paths: [path.resolve(dir)] })
  const { Aedes } = await import(pathToFileURL(entry).href)
  const broker = await Aedes.createBroker()
  const server = net.createServer(broker.handle)
  server.listen(port, '127.0.0.1', () => {
    console.log(`aedes listening on 127.0.0.1:${port}`)
  })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
