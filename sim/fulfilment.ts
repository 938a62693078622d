/** Fulfilment (enrolment) simulator: grants and revokes a learner's access to courses. */
import { z } from 'zod';
import { SimError, createSimulator, newId } from './lib/simulator';
import type { SimulatorOptions } from './lib/simulator';

const Grant = z.object({ user_id: z.string().min(1), course_ids: z.array(z.string().min(1)).min(1), reference: z.string().min(1) });

interface Enrollment {
  id: string;
  user_id: string;
  course_ids: string[];
  reference: string;
  status: 'active' | 'revoked';
}

export function createFulfilmentSim(options: SimulatorOptions = {}) {
  const sim = createSimulator('fulfilment', options);
  const enrollments = new Map<string, Enrollment>();

  sim.command('/enrollments', 'grant', (req) => {
    const body = Grant.safeParse(req.body);
    if (!body.success) throw new SimError(400, { code: 'invalid_request', message: body.error.issues[0]?.message });
    if (body.data.course_ids.some((c) => c.startsWith('course-v1:Retired'))) throw new SimError(422, { code: 'course_retired', message: 'That course no longer accepts enrolments.' });
    const enrollment: Enrollment = { id: newId('enr_'), ...body.data, status: 'active' };
    enrollments.set(enrollment.id, enrollment);
    return { status: 201, body: enrollment, effect: { ref: enrollment.id } };
  });

  sim.command('/enrollments/:id/revoke', 'revoke', (req) => {
    const enrollment = enrollments.get(String(req.params.id));
    if (!enrollment) throw new SimError(404, { code: 'not_found', message: 'No such enrollment.' });
    if (enrollment.status === 'revoked') throw new SimError(422, { code: 'already_revoked', message: 'Enrollment already revoked.' });
    enrollment.status = 'revoked';
    return { status: 200, body: enrollment, effect: { ref: enrollment.id } };
  });

  // Test contract: every enrolment with its status and reference, for invariant checks.
  sim.app.get('/_sim/state', (_req, res) => {
    res.json({ enrollments: [...enrollments.values()] });
  });

  sim.query('/enrollments', 'list', (req) => {
    const reference = req.query.reference as string | undefined;
    return { status: 200, body: { results: [...enrollments.values()].filter((e) => !reference || e.reference === reference) } };
  });
  return sim;
}
