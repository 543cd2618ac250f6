import { expect } from 'chai';
import { STEP_BUDGET_MS, StepSizes } from '../../src/domain/step-sizes.js';

describe('StepSizes', () => {
  it('starts at the fewest items and grows at most twofold a step while steps stay within the budget', () => {
    const steps = new StepSizes(20, 1000);
    const sizes = [steps.next];
    for (let i = 0; i < 8; i++) {
      steps.took(steps.next, 0.1);
      sizes.push(steps.next);
    }
    expect(sizes).to.deep.equal([20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
  });

  it('fits the next step to the budget from the time per item of the last one', () => {
    const steps = new StepSizes(20, 1000);
    steps.took(20, 1);
    steps.took(40, 1);
    expect(steps.next).to.equal(80);
    // 80 items took 4 budgets: a quarter as many fit.
    steps.took(80, 4 * STEP_BUDGET_MS);
    expect(steps.next).to.equal(20);
    const slower = new StepSizes(20, 1000);
    for (let i = 0; i < 5; i++) slower.took(slower.next, 0.01);
    expect(slower.next).to.equal(640);
    slower.took(640, 2 * STEP_BUDGET_MS);
    expect(slower.next).to.equal(320);
  });

  it('never goes below the fewest items, however slow a step was', () => {
    const steps = new StepSizes(20, 1000);
    steps.took(20, 10_000);
    expect(steps.next).to.equal(20);
  });

  it('ignores an empty step', () => {
    const steps = new StepSizes(20, 1000);
    steps.took(20, 0.1);
    steps.took(0, 10_000);
    expect(steps.next).to.equal(40);
  });
});
