import type { Command } from 'commander';
import { calibrateCommand } from './calibrate';
import { cancelCommand } from './cancel';
import { compareCommand } from './compare';
import { costsCommand } from './costs';
import { estimateCommand } from './estimate';
import { pricesCommand } from './prices';
import { qualityCommand } from './quality';
import { resultsCommand } from './results';
import { statusCommand } from './status';
import { submitCommand } from './submit';
import { validateCommand } from './validate';

/** Every sub-command of `warmbatch`; each module exports a factory returning a Command. */
export const commands: Array<() => Command> = [
  estimateCommand,
  calibrateCommand,
  pricesCommand,
  submitCommand,
  validateCommand,
  compareCommand,
  qualityCommand,
  statusCommand,
  resultsCommand,
  cancelCommand,
  costsCommand,
];
