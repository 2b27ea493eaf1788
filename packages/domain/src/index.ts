export * from './dyndns-result.ts';
export * from './host-state.ts';
export * from './hostname.ts';
export * from './ip-address.ts';
export * from './mail.ts';
export * from './special-addresses.ts';
