import type { Command } from 'commander';
import { benchCommand } from './bench';
import { calibrateCommand } from './calibrate';
import { cancelCommand } from './cancel';
import { compareCommand } from './compare';
import { costsCommand } from './costs';
import { estimateCommand } from './estimate';
import { localCommand } from './local';
import { pricesCommand } from './prices';
import { resultsCommand } from './results';
import { simCommand } from './sim';
import { statusCommand } from './status';
import { submitCommand } from './submit';
import { validateCommand } from './validate';

/** Every sub-command of `warmbatch`; each module exports a factory returning a Command. */
export const commands: Array<() => Command> = [
  localCommand,
  simCommand,
  estimateCommand,
  calibrateCommand,
  pricesCommand,
  benchCommand,
  submitCommand,
  validateCommand,
  compareCommand,
  statusCommand,
  resultsCommand,
  cancelCommand,
  costsCommand,
];
