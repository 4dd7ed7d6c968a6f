'use strict';
// An SMPP client (npm smpp) for switchboard's interop tests. It connects,
// runs a list of actions in order and prints every PDU it sends or receives
// as one JSON line on stdout, then exits 0. See docs/interop.md.
//
//   node client.js '{"host":"127.0.0.1","port":2775,"actions":[
//     {"op":"submit_sm","destination_addr":"15551230000","text":"early"},
//     {"op":"bind","mode":"transceiver","system_id":"esme","password":"pw"},
//     {"op":"submit_sm","source_addr":"15551230001","destination_addr":"15551230000","text":"hi"},
//     {"op":"wait","command":"deliver_sm","count":1,"timeout_ms":5000},
//     {"op":"unbind"}]}'
//
// Each request action waits for its response (or "timeout_ms", default
// 5000) before the next one runs. Incoming deliver_sm and enquire_link are
// answered at once; "deliver_status" in the config sets the command_status
// of deliver_sm_resp.

const { smpp, emit, messageFields, pduFields, userData, statusName } = require('./common');

const cfg = Object.assign({ host: '127.0.0.1', port: 2775, actions: [], timeout_ms: 5000, deliver_status: 0 }, JSON.parse(process.argv[2] || '{}'));

const received = {}; // command name -> count, for "wait"
const waiters = [];

function countReceived(command) {
  received[command] = (received[command] || 0) + 1;
  for (let i = waiters.length - 1; i >= 0; i--) {
    const w = waiters[i];
    if ((received[w.command] || 0) >= w.count) {
      waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(true);
    }
  }
}

function finish(code) {
  emit({ type: 'done', code });
  // Give stdout a chance to drain before exiting.
  process.stdout.write('', () => process.exit(code));
}

const session = smpp.connect({ host: cfg.host, port: cfg.port });
let closed = false;

session.on('error', (err) => emit({ type: 'error', message: String(err && err.message) }));
session.on('close', () => {
  closed = true;
  emit({ type: 'close' });
  for (const w of waiters.splice(0)) {
    clearTimeout(w.timer);
    w.resolve(false);
  }
});

session.on('deliver_sm', (pdu) => {
  emit(Object.assign({ type: 'deliver_sm' }, pduFields(pdu), messageFields(pdu)));
  session.send(pdu.response({ command_status: cfg.deliver_status }));
  countReceived('deliver_sm');
});
session.on('data_sm', (pdu) => {
  emit(Object.assign({ type: 'data_sm' }, pduFields(pdu), messageFields(pdu)));
  session.send(pdu.response());
  countReceived('data_sm');
});
session.on('enquire_link', (pdu) => {
  emit({ type: 'enquire_link', sequence_number: pdu.sequence_number });
  session.send(pdu.response());
  countReceived('enquire_link');
});
session.on('unbind', (pdu) => {
  emit({ type: 'unbind', sequence_number: pdu.sequence_number });
  session.send(pdu.response());
  countReceived('unbind');
});
session.on('generic_nack', (pdu) => {
  emit({ type: 'generic_nack', sequence_number: pdu.sequence_number, status: pdu.command_status, result: statusName(pdu.command_status) });
  countReceived('generic_nack');
});

// request sends one PDU and resolves with its response, or with null after
// the timeout or when the connection closes first.
function request(command, fields, timeoutMs) {
  return new Promise((resolve) => {
    if (closed) {
      emit({ type: 'not_sent', command, reason: 'connection closed' });
      resolve(null);
      return;
    }
    let done = false;
    const pdu = new smpp.PDU(command, fields);
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      emit({ type: 'timeout', command, sequence_number: pdu.sequence_number });
      resolve(null);
    }, timeoutMs);
    const onClose = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(null);
    };
    session.once('close', onClose);
    const sent = session.send(pdu, (resp) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.removeListener('close', onClose);
      const ev = Object.assign({ type: resp.command }, pduFields(resp), { status: resp.command_status, result: statusName(resp.command_status) });
      emit(ev);
      resolve(resp);
    });
    if (!sent) {
      done = true;
      clearTimeout(timer);
      emit({ type: 'not_sent', command, reason: 'socket not writable' });
      resolve(null);
      return;
    }
    emit(Object.assign({ type: 'sent', command }, pduFields(pdu), fields.short_message ? { short_message_hex: fields.short_message.toString('hex') } : {}));
  });
}

const BIND_COMMANDS = { transceiver: 'bind_transceiver', transmitter: 'bind_transmitter', receiver: 'bind_receiver' };

async function run(action) {
  const timeoutMs = action.timeout_ms || cfg.timeout_ms;
  switch (action.op) {
    case 'bind': {
      const command = BIND_COMMANDS[action.mode || 'transceiver'];
      if (!command) throw new Error('unknown bind mode ' + action.mode);
      await request(command, {
        system_id: action.system_id !== undefined ? action.system_id : cfg.system_id || '',
        password: action.password !== undefined ? action.password : cfg.password || '',
        system_type: action.system_type || '',
        interface_version: action.interface_version || 0x34,
        addr_ton: 0,
        addr_npi: 0,
        address_range: '',
      }, timeoutMs);
      return;
    }
    case 'submit_sm': {
      const fields = {
        service_type: action.service_type || '',
        source_addr_ton: action.source_addr_ton === undefined ? 1 : action.source_addr_ton,
        source_addr_npi: action.source_addr_npi === undefined ? 1 : action.source_addr_npi,
        source_addr: action.source_addr || '',
        dest_addr_ton: action.dest_addr_ton === undefined ? 1 : action.dest_addr_ton,
        dest_addr_npi: action.dest_addr_npi === undefined ? 1 : action.dest_addr_npi,
        destination_addr: action.destination_addr || '',
        esm_class: (action.esm_class || 0) | (action.udh_hex ? 0x40 : 0),
        protocol_id: action.protocol_id || 0,
        priority_flag: action.priority_flag || 0,
        registered_delivery: action.registered_delivery || 0,
        data_coding: action.data_coding || 0,
        short_message: userData(action),
      };
      if (action.validity_period) fields.validity_period = action.validity_period;
      await request('submit_sm', fields, timeoutMs);
      return;
    }
    case 'enquire_link':
      await request('enquire_link', {}, timeoutMs);
      return;
    case 'unbind':
      await request('unbind', {}, timeoutMs);
      return;
    case 'wait': {
      // Wait until this many PDUs of a kind have arrived in total.
      const command = action.command || 'deliver_sm';
      const count = action.count || 1;
      if ((received[command] || 0) >= count) return;
      if (closed) {
        emit({ type: 'wait_failed', command, count, got: received[command] || 0, reason: 'connection closed' });
        return;
      }
      const ok = await new Promise((resolve) => {
        const w = { command, count, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          resolve(false);
        }, timeoutMs);
        waiters.push(w);
      });
      if (!ok) emit({ type: 'wait_failed', command, count, got: received[command] || 0 });
      return;
    }
    case 'close':
      session.close();
      return;
    default:
      throw new Error('unknown op ' + action.op);
  }
}

session.on('connect', async () => {
  emit({ type: 'connect', host: cfg.host, port: cfg.port });
  try {
    for (const action of cfg.actions) {
      await run(action);
    }
  } catch (err) {
    emit({ type: 'error', message: err.message });
    finish(2);
    return;
  }
  if (!closed) session.close();
  finish(0);
});

// A refused connection fires "error" and then "close" without "connect":
// report it and exit 0 anyway, the events tell the story.
session.socket.once('close', () => {
  if (!session.socket.connecting && !session._connected) setImmediate(() => finish(0));
});
session.on('connect', () => {
  session._connected = true;
});
