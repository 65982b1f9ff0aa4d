export function writeReport (_file: string): void {}
