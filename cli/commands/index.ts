import type { Command } from 'commander';
import { estimateCommand } from './estimate';
import { simCommand } from './sim';

/** Every sub-command of `warmbatch`; each module exports a factory returning a Command. */
export const commands: Array<() => Command> = [simCommand, estimateCommand];
