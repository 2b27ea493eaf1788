export * from './dyndns-result.ts';
export * from './host-state.ts';
export * from './hostname.ts';
export * from './ip-address.ts';
export * from './ipv6-prefix.ts';
export * from './mail.ts';
export * from './owner-records.ts';
export * from './special-addresses.ts';
