// A scriptable SMSC for the SMS tests, on the npm `smpp` package's server.
//
//   node smsc.js '{"port": 0, "system_id": "beep", "password": "secret", ...}'
//
// Options (JSON in argv[2]): port (0: any; the chosen one is printed), system_id,
// password, throttle_every (answer every Nth submit_sm with ESME_RTHROTTLED),
// queue_full_every (... with ESME_RMSGQFUL), dlr ("DELIVRD", "UNDELIV" or null),
// dlr_delay_ms, reject_every (ESME_RSUBMITFAIL), silent_every (never answer), quiet (no
// per-SMS events: benchmarks).
// Every event is one JSON line on stdout: listening, bind, bind_refused, submit,
// throttled, message (a whole SMS once all its parts are in: UDH or SAR reassembly),
// reassembly_error, dlr, unbind.
'use strict';
const smpp = require('smpp');

const options = Object.assign({
  port: 0, system_id: 'beepcall', password: 'secret', throttle_every: 0,
  queue_full_every: 0, reject_every: 0, silent_every: 0, dlr: 'DELIVRD', dlr_delay_ms: 20,
}, JSON.parse(process.argv[2] || '{}'));

const QUIET = new Set(['submit', 'message']);  // options.quiet: benchmark, no per-SMS lines

function emit(event) {
  if (options.quiet && QUIET.has(event.event)) return;
  process.stdout.write(JSON.stringify(event) + '\n');
}

let submits = 0;
let nextId = 1;
const pending = new Map();  // reassembly: key -> {total, parts: Map(seq -> text), ids}

function concatInfo(pdu, message) {
  // UDH concatenation IE (0x00: 8-bit ref, 0x08: 16-bit ref), else SAR TLVs, else none
  for (const ie of (message.udh || [])) {
    if (ie[0] === 0x00 && ie.length >= 5) return {kind: 'udh', ref: ie[2], total: ie[3], seq: ie[4]};
    if (ie[0] === 0x08 && ie.length >= 6) return {kind: 'udh16', ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5]};
  }
  if (pdu.sar_msg_ref_num !== undefined) {
    return {kind: 'sar', ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum};
  }
  return null;
}

function reassemble(pdu, message, messageId) {
  const info = concatInfo(pdu, message);
  const base = {source: pdu.source_addr, source_ton: pdu.source_addr_ton,
    source_npi: pdu.source_addr_npi, destination: pdu.destination_addr,
    data_coding: pdu.data_coding};
  if (!info) {
    emit(Object.assign({event: 'message', text: message.message, parts: 1, concat: null,
      message_ids: [messageId]}, base));
    return;
  }
  const key = [pdu.source_addr, pdu.destination_addr, info.kind, info.ref].join('|');
  let entry = pending.get(key);
  if (!entry) {
    entry = {total: info.total, parts: new Map(), ids: []};
    pending.set(key, entry);
  }
  if (entry.total !== info.total || info.seq < 1 || info.seq > info.total || entry.parts.has(info.seq)) {
    emit({event: 'reassembly_error', key, total: info.total, seq: info.seq});
    return;
  }
  entry.parts.set(info.seq, message.message);
  entry.ids.push(messageId);
  if (entry.parts.size === entry.total) {
    pending.delete(key);
    let text = '';
    for (let i = 1; i <= entry.total; i++) text += entry.parts.get(i);
    emit(Object.assign({event: 'message', text, parts: entry.total, concat: info.kind,
      message_ids: entry.ids}, base));
  }
}

function pad(n, width) { return String(n).padStart(width, '0'); }

function sendReceipt(session, pdu, messageId, state) {
  const now = new Date();
  const stamp = pad(now.getUTCFullYear() % 100, 2) + pad(now.getUTCMonth() + 1, 2) +
    pad(now.getUTCDate(), 2) + pad(now.getUTCHours(), 2) + pad(now.getUTCMinutes(), 2);
  const text = `id:${messageId} sub:001 dlvrd:${state === 'DELIVRD' ? '001' : '000'} ` +
    `submit date:${stamp} done date:${stamp} stat:${state} err:000 text:`;
  const states = {DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8};
  session.deliver_sm({
    source_addr: pdu.destination_addr, source_addr_ton: pdu.dest_addr_ton,
    source_addr_npi: pdu.dest_addr_npi, destination_addr: pdu.source_addr,
    dest_addr_ton: pdu.source_addr_ton, dest_addr_npi: pdu.source_addr_npi,
    esm_class: 0x04, short_message: text, receipted_message_id: messageId,
    message_state: states[state] || 7,
  }, (resp) => emit({event: 'dlr', message_id: messageId, state, status: resp.command_status}));
}

const server = smpp.createServer({}, (session) => {
  let bound = false;
  session.on('error', (err) => emit({event: 'session_error', error: String(err)}));
  const onBind = (pdu) => {
    if (pdu.system_id !== options.system_id || pdu.password !== options.password) {
      emit({event: 'bind_refused', command: pdu.command, system_id: pdu.system_id});
      session.send(pdu.response({command_status: smpp.ESME_RINVPASWD}));
      session.close();
      return;
    }
    bound = true;
    emit({event: 'bind', command: pdu.command, system_id: pdu.system_id,
      system_type: pdu.system_type});
    session.send(pdu.response({system_id: 'test-smsc'}));
  };
  session.on('bind_transmitter', onBind);
  session.on('bind_transceiver', onBind);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    emit({event: 'unbind'});
    session.send(pdu.response());
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    if (!bound) {
      session.send(pdu.response({command_status: smpp.ESME_RINVBNDSTS}));
      return;
    }
    submits += 1;
    if (options.silent_every && submits % options.silent_every === 0) {
      emit({event: 'silent', sequence: pdu.sequence_number});
      return;
    }
    if (options.throttle_every && submits % options.throttle_every === 0) {
      emit({event: 'throttled', status: 'ESME_RTHROTTLED'});
      session.send(pdu.response({command_status: smpp.ESME_RTHROTTLED}));
      return;
    }
    if (options.queue_full_every && submits % options.queue_full_every === 0) {
      emit({event: 'throttled', status: 'ESME_RMSGQFUL'});
      session.send(pdu.response({command_status: smpp.ESME_RMSGQFUL}));
      return;
    }
    if (options.reject_every && submits % options.reject_every === 0) {
      emit({event: 'rejected'});
      session.send(pdu.response({command_status: smpp.ESME_RSUBMITFAIL}));
      return;
    }
    const messageId = 'm' + process.pid + '-' + (nextId++);
    const message = pdu.short_message || {message: ''};
    emit({event: 'submit', message_id: messageId, source: pdu.source_addr,
      source_ton: pdu.source_addr_ton, destination: pdu.destination_addr,
      data_coding: pdu.data_coding, esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery, text: message.message,
      sar: pdu.sar_msg_ref_num !== undefined});
    session.send(pdu.response({message_id: messageId}));
    reassemble(pdu, message, messageId);
    if (options.dlr && (pdu.registered_delivery & 0x03)) {
      setTimeout(() => sendReceipt(session, pdu, messageId, options.dlr), options.dlr_delay_ms);
    }
  });
});

server.listen(options.port, '127.0.0.1', () => {
  emit({event: 'listening', port: server.address().port});
});
process.on('SIGTERM', () => process.exit(0));
// The test process owns us: when it goes (its end of our stdin closes), so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
