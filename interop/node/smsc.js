'use strict';
// An SMPP server (npm smpp) standing in for the upstream SMSC in
// switchboard's interop tests. See docs/interop.md for the protocol:
//
//   node smsc.js '{"port":0,"system_id":"up","password":"secret"}'
//
// stdout: one JSON object per line for every event ("ready" first, with the
// port it listens on). stdin: one JSON command per line (deliver_sm,
// receipt, throttle, disconnect, stats); each is answered by an "ack" line
// carrying the command's "ref".
//
// Credentials may also come from SMSC_SYSTEM_ID and SMSC_PASSWORD. With
// "sink": true it keeps nothing and prints no per-PDU events, so that it
// answers submit_sm as fast as the library allows (for benchmarks).

const readline = require('readline');
const { smpp, emit, messageFields, pduFields, userData, statusName } = require('./common');

const cfg = Object.assign(
  {
    host: '127.0.0.1',
    port: 0,
    system_id: process.env.SMSC_SYSTEM_ID || '',
    password: process.env.SMSC_PASSWORD || '',
    sink: false,
    first_id: 1,
  },
  process.argv[2] ? JSON.parse(process.argv[2]) : {}
);

let nextSession = 1;
let nextMessageId = Number(cfg.first_id);
const sessions = new Map(); // session number -> {session, mode, bound}
// submitted remembers what each accepted submit_sm carried, so that a
// receipt can address itself the way a real SMSC would (swapped addresses,
// the submit time) without the test repeating it.
const submitted = new Map();
let throttle = { status: 0, count: 0 };
let stats = { submits: 0, rejected: 0 };

function smppDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes());
}

const BIND_MODES = {
  bind_transceiver: 'transceiver',
  bind_transmitter: 'transmitter',
  bind_receiver: 'receiver',
};

const server = smpp.createServer((session) => {
  const id = nextSession++;
  const entry = { session, mode: null, bound: false };
  sessions.set(id, entry);
  const remote = session.socket.remoteAddress + ':' + session.socket.remotePort;
  if (!cfg.sink) emit({ type: 'connect', session: id, remote });

  for (const command of Object.keys(BIND_MODES)) {
    session.on(command, (pdu) => {
      const ok = pdu.system_id === cfg.system_id && pdu.password === cfg.password;
      const status = ok ? 0 : smpp.errors.ESME_RBINDFAIL;
      session.send(pdu.response({ command_status: status, system_id: 'node-smsc' }));
      emit(Object.assign({ type: 'bind', session: id, command }, pduFields(pdu), {
        status,
        result: statusName(status),
      }));
      if (ok) {
        entry.mode = BIND_MODES[command];
        entry.bound = true;
      }
    });
  }

  session.on('submit_sm', (pdu) => {
    if (!entry.bound || entry.mode === 'receiver') {
      // SMPP 3.4 §2.3: submit_sm is only valid in a transmitter or
      // transceiver session.
      session.send(pdu.response({ command_status: smpp.errors.ESME_RINVBNDSTS }));
      if (!cfg.sink) emit(Object.assign({ type: 'submit_sm', session: id, status: smpp.errors.ESME_RINVBNDSTS, result: 'ESME_RINVBNDSTS' }, pduFields(pdu), messageFields(pdu)));
      return;
    }
    if (throttle.count !== 0) {
      if (throttle.count > 0) throttle.count--;
      stats.rejected++;
      session.send(pdu.response({ command_status: throttle.status }));
      if (!cfg.sink) emit(Object.assign({ type: 'submit_sm', session: id, status: throttle.status, result: statusName(throttle.status) }, pduFields(pdu), messageFields(pdu)));
      return;
    }
    const messageId = String(nextMessageId++);
    stats.submits++;
    session.send(pdu.response({ message_id: messageId }));
    if (cfg.sink) return;
    submitted.set(messageId, {
      source_addr: pdu.source_addr,
      source_addr_ton: pdu.source_addr_ton,
      source_addr_npi: pdu.source_addr_npi,
      destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton,
      dest_addr_npi: pdu.dest_addr_npi,
      session: id,
      submitted: new Date(),
    });
    emit(Object.assign({ type: 'submit_sm', session: id }, pduFields(pdu), messageFields(pdu), { status: 0, result: 'ESME_ROK', message_id: messageId }));
  });

  session.on('enquire_link', (pdu) => {
    session.send(pdu.response());
    if (!cfg.sink) emit({ type: 'enquire_link', session: id, sequence_number: pdu.sequence_number });
  });

  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    entry.bound = false;
    emit({ type: 'unbind', session: id });
    session.close();
  });

  session.on('deliver_sm_resp', (pdu) => {
    if (!cfg.sink) emit({ type: 'deliver_sm_resp', session: id, sequence_number: pdu.sequence_number, status: pdu.command_status, result: statusName(pdu.command_status), ref: pending.get(pdu.sequence_number) });
    pending.delete(pdu.sequence_number);
  });

  session.on('unknown', (pdu) => {
    session.send(pdu.response());
    emit({ type: 'unknown', session: id, command_id: pdu.command_id });
  });

  session.on('error', (err) => emit({ type: 'session_error', session: id, message: String(err && err.message) }));
  session.on('close', () => {
    sessions.delete(id);
    emit({ type: 'close', session: id });
  });
});

// pending maps the sequence number of a deliver_sm we sent to the ref of the
// command that asked for it, so that its deliver_sm_resp event names it.
const pending = new Map();

// boundReceiver finds the session a deliver_sm goes to: the one the command
// names, else the most recently bound session that may receive.
function boundReceiver(cmd) {
  if (cmd.session !== undefined) {
    const e = sessions.get(cmd.session);
    return e && e.bound ? e : null;
  }
  let found = null;
  for (const e of sessions.values()) {
    if (e.bound && e.mode !== 'transmitter') found = e;
  }
  return found;
}

function sendDeliver(cmd, fields) {
  const e = boundReceiver(cmd);
  if (!e) throw new Error('no bound receiver or transceiver session');
  const pdu = new smpp.PDU('deliver_sm', fields);
  e.session.send(pdu);
  if (cmd.ref !== undefined) pending.set(pdu.sequence_number, cmd.ref);
  return pdu.sequence_number;
}

// receiptStates maps the Appendix B stat word to the message_state TLV
// value of SMPP 3.4 §5.2.28.
const receiptStates = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

const handlers = {
  deliver_sm(cmd) {
    // Without a data_coding, text goes as GSM 03.38 when it fits that
    // alphabet and as UCS-2 otherwise, as a handset would send it.
    let dc = cmd.data_coding;
    if (dc === undefined) dc = cmd.hex !== undefined || smpp.gsmCoder.GSM.charRegex.test(cmd.text || '') ? 0 : 0x08;
    cmd = Object.assign({}, cmd, { data_coding: dc });
    const fields = {
      service_type: cmd.service_type || '',
      source_addr_ton: cmd.source_addr_ton === undefined ? 1 : cmd.source_addr_ton,
      source_addr_npi: cmd.source_addr_npi === undefined ? 1 : cmd.source_addr_npi,
      source_addr: cmd.source_addr || cmd.from || '',
      dest_addr_ton: cmd.dest_addr_ton === undefined ? 1 : cmd.dest_addr_ton,
      dest_addr_npi: cmd.dest_addr_npi === undefined ? 1 : cmd.dest_addr_npi,
      destination_addr: cmd.destination_addr || cmd.to || '',
      esm_class: (cmd.esm_class || 0) | (cmd.udh_hex ? 0x40 : 0),
      protocol_id: cmd.protocol_id || 0,
      data_coding: dc,
      short_message: userData(cmd),
    };
    return { sequence_number: sendDeliver(cmd, fields) };
  },

  receipt(cmd) {
    const sub = submitted.get(String(cmd.message_id)) || {};
    const stat = cmd.stat || 'DELIVRD';
    const now = new Date();
    const text =
      cmd.text !== undefined
        ? cmd.text
        : 'id:' + cmd.message_id + ' sub:001 dlvrd:' + (stat === 'DELIVRD' ? '001' : '000') +
          ' submit date:' + smppDate(sub.submitted || now) + ' done date:' + smppDate(now) +
          ' stat:' + stat + ' err:' + (cmd.err || '000') + ' text:';
    // A receipt travels back from the recipient: its source is the MT's
    // destination and its destination the MT's source (SMPP 3.4 §4.6.1.1).
    const fields = {
      source_addr_ton: cmd.source_addr_ton !== undefined ? cmd.source_addr_ton : sub.dest_addr_ton || 1,
      source_addr_npi: cmd.source_addr_npi !== undefined ? cmd.source_addr_npi : sub.dest_addr_npi || 1,
      source_addr: cmd.source_addr !== undefined ? cmd.source_addr : sub.destination_addr || '',
      dest_addr_ton: cmd.dest_addr_ton !== undefined ? cmd.dest_addr_ton : sub.source_addr_ton || 1,
      dest_addr_npi: cmd.dest_addr_npi !== undefined ? cmd.dest_addr_npi : sub.source_addr_npi || 1,
      destination_addr: cmd.destination_addr !== undefined ? cmd.destination_addr : sub.source_addr || '',
      esm_class: cmd.esm_class !== undefined ? cmd.esm_class : 0x04,
      data_coding: 0,
      short_message: Buffer.from(text, 'ascii'),
    };
    if (cmd.tlvs !== false) {
      fields.receipted_message_id = String(cmd.message_id);
      fields.message_state = cmd.message_state !== undefined ? cmd.message_state : receiptStates[stat] || 7;
    }
    if (cmd.session === undefined && sub.session !== undefined && sessions.has(sub.session)) {
      cmd = Object.assign({}, cmd, { session: sub.session });
      if (!sessions.get(sub.session).bound) delete cmd.session;
    }
    return { sequence_number: sendDeliver(cmd, fields), text };
  },

  throttle(cmd) {
    throttle = { status: cmd.status === undefined ? smpp.errors.ESME_RTHROTTLED : cmd.status, count: cmd.count === undefined ? 1 : cmd.count };
    return {};
  },

  disconnect() {
    const n = sessions.size;
    for (const e of sessions.values()) e.session.destroy();
    return { closed: n };
  },

  stats() {
    return Object.assign({ sessions: sessions.size }, stats);
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    emit({ type: 'ack', ok: false, error: 'bad JSON: ' + err.message });
    return;
  }
  const handler = handlers[cmd.cmd];
  if (!handler) {
    emit({ type: 'ack', ref: cmd.ref, cmd: cmd.cmd, ok: false, error: 'unknown command' });
    return;
  }
  try {
    emit(Object.assign({ type: 'ack', ref: cmd.ref, cmd: cmd.cmd, ok: true }, handler(cmd)));
  } catch (err) {
    emit({ type: 'ack', ref: cmd.ref, cmd: cmd.cmd, ok: false, error: err.message });
  }
});
// The Go harness closes stdin when it stops us; exit then rather than wait
// for the signal, so that a stop is quick and clean.
rl.on('close', () => process.exit(0));

process.on('SIGTERM', () => process.exit(0));

server.on('error', (err) => {
  emit({ type: 'fatal', message: err.message });
  process.exit(1);
});
server.listen(cfg.port, cfg.host, () => {
  emit({ type: 'ready', port: server.address().port, host: cfg.host });
});
