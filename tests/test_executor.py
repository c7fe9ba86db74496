"""Program affinity: each worker is handed the trials its compiled programs
serve, so a search compiles once per worker."""

import threading

from edgeperf.harness.sweep import local as executor
from edgeperf.harness.sweep import trial


def _tasks(*pairs):
  return [trial.TrialTask(id=f"{w}/{s}/{i}", workload=w, submission=s,
                          hparams={}, seed=0, run_dir=f"/runs/{i}")
          for i, (w, s) in enumerate(pairs)]


def test_a_worker_keeps_its_search_and_the_other_takes_another():
  tasks = _tasks(("w", "a"), ("w", "a"), ("w", "a"), ("w", "b"), ("w", "b"))
  q = executor.TaskQueue(tasks)
  first, second = q.take(0), q.take(1)
  # Plain FIFO would give worker 1 the second "a" trial (a compilation of a
  # program worker 0 already has); affinity gives it "b".
  assert first.submission == "a" and second.submission == "b"
  assert q.take(0).submission == "a"
  assert q.take(1).submission == "b"
  assert q.take(1).submission == "a"  # nothing else left for it
  assert q.take(0) is None and len(q) == 0


def test_a_replaced_worker_holds_nothing():
  def two_takes(forget):
    q = executor.TaskQueue(_tasks(("w", "a"), ("w", "a"), ("w", "b")))
    assert q.take(0).submission == "a"
    if forget:
      q.forget(0)  # crashed: its programs are gone
    return q.take(1).submission

  assert two_takes(forget=False) == "b"  # "a" is worker 0's to compile
  assert two_takes(forget=True) == "a"  # nobody holds "a" any more


def test_every_task_is_handed_out_once_across_threads():
  tasks = _tasks(*[("w", s) for s in "abcd" for _ in range(25)])
  q, got, lock = executor.TaskQueue(tasks), [], threading.Lock()

  def drain(worker):
    while (task := q.take(worker)) is not None:
      with lock:
        got.append(task.id)

  threads = [threading.Thread(target=drain, args=(i,)) for i in range(4)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert sorted(got) == sorted(t.id for t in tasks)
