'use strict';
// Helpers shared by smsc.js and client.js: raw message bytes, text
// encoding by data_coding, and the JSON-lines output both scripts speak.

const smpp = require('smpp');

// The library decodes short_message and message_payload into strings on
// receipt and guesses an encoding on send. The tests need the exact octets
// on the wire, so both scripts switch that off and handle bytes themselves.
for (const name of Object.keys(smpp.commands)) {
  const params = smpp.commands[name].params || {};
  if (params.short_message) delete params.short_message.filter;
}
if (smpp.tlvs.message_payload) delete smpp.tlvs.message_payload.filter;

// emit writes one event as one JSON line on stdout. Every line is a whole
// object so that the Go side can decode line by line.
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// encodeText turns text into short_message octets for a data_coding value:
// 0x00 is the GSM 03.38 default alphabet, one septet per octet (unpacked, as
// SMPP carries it); 0x08 is UCS-2 (UTF-16BE); 0x03 Latin-1; 0x01 IA5/ASCII.
function encodeText(text, dataCoding) {
  switch (dataCoding & 0xff) {
    case 0x00:
      return smpp.gsmCoder.encode(text, 0x00);
    case 0x08:
      return require('iconv-lite').encode(text, 'utf16-be');
    case 0x03:
      return Buffer.from(text, 'latin1');
    default:
      return Buffer.from(text, 'ascii');
  }
}

// decodeText is the inverse of encodeText, for the "text" convenience field
// of events; the exact octets are always reported as hex beside it.
function decodeText(buf, dataCoding) {
  if (!Buffer.isBuffer(buf)) return '';
  switch (dataCoding & 0xff) {
    case 0x00:
      return smpp.gsmCoder.decode(buf, 0x00);
    case 0x08:
      return require('iconv-lite').decode(buf, 'utf16-be');
    case 0x03:
      return buf.toString('latin1');
    case 0x01:
      return buf.toString('ascii');
    default:
      return '';
  }
}

// messageFields describes the user data of a submit_sm, deliver_sm or
// data_sm: the raw octets, the UDH split off when esm_class says there is
// one, and the text decoded by data_coding.
function messageFields(pdu) {
  const out = {};
  let body = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
  out.short_message_hex = body.toString('hex');
  if (Buffer.isBuffer(pdu.message_payload)) {
    out.message_payload_hex = pdu.message_payload.toString('hex');
    if (body.length === 0) body = pdu.message_payload;
  }
  let ud = body;
  if ((pdu.esm_class & 0x40) && body.length > 0 && body[0] + 1 <= body.length) {
    out.udh_hex = body.slice(0, body[0] + 1).toString('hex');
    ud = body.slice(body[0] + 1);
  }
  out.text = decodeText(ud, pdu.data_coding || 0);
  return out;
}

// pduFields copies the scalar fields and known TLVs of a PDU for an event,
// leaving out the library's bookkeeping and the raw message buffers (those
// are reported by messageFields).
function pduFields(pdu) {
  const out = {};
  for (const key of Object.keys(pdu)) {
    if (key === 'short_message' || key === 'message_payload') continue;
    if (key === 'command_length' || key === 'command') continue;
    const v = pdu[key];
    if (typeof v === 'function') continue;
    if (Buffer.isBuffer(v)) {
      // Unknown TLVs land under their numeric tag; name them so.
      out[/^\d+$/.test(key) ? 'tlv_0x' + Number(key).toString(16).padStart(4, '0') : key + '_hex'] = v.toString('hex');
    } else if (v instanceof Date) {
      out[key] = v.toISOString();
    } else if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) {
      out[key] = v;
    }
  }
  return out;
}

// userData builds the short_message octets of an outgoing message from a
// command: "hex" wins over "text", and "udh_hex" is prepended.
function userData(cmd) {
  const dc = cmd.data_coding || 0;
  let body = cmd.hex !== undefined ? Buffer.from(cmd.hex, 'hex') : encodeText(cmd.text || '', dc);
  if (cmd.udh_hex) body = Buffer.concat([Buffer.from(cmd.udh_hex, 'hex'), body]);
  return body;
}

// statusName gives the ESME_* name of a command_status for readable events.
function statusName(status) {
  for (const name of Object.keys(smpp.errors)) {
    if (smpp.errors[name] === status) return name;
  }
  return '0x' + (status >>> 0).toString(16).padStart(8, '0');
}

module.exports = { smpp, emit, encodeText, decodeText, messageFields, pduFields, userData, statusName };
