#include "pdscaler/ctl/leader.h"

namespace pdscaler::ctl {

LeaderElector::LeaderElector(kube::KubeClient& client, LeaderConfig cfg, std::function<void(bool)> on_change,
                             TimeSource& clock)
    : client_(client), cfg_(std::move(cfg)), on_change_(std::move(on_change)), clock_(clock) {}

void LeaderElector::set_leader(bool v) {
  if (leader_.exchange(v) != v && on_change_) on_change_(v);
}

bool LeaderElector::try_acquire_or_renew() {
  const auto now_wall = clock_.wall();
  const auto now = clock_.now();
  const std::string stamp = api::format_micro_time(now_wall);
  auto got = client_.get_lease(cfg_.namespace_, cfg_.name);
  if (!got) return false;
  if (!*got) {
    api::Lease l{cfg_.namespace_, cfg_.name, cfg_.identity,
                  static_cast<int>(cfg_.lease_duration.count()), stamp, stamp, 0, ""};
    return static_cast<bool>(client_.create_lease(l));
  }
  api::Lease l = **got;
  const std::string record = l.holder + "|" + l.renew_time + "|" + l.acquire_time + "|" +
                             std::to_string(l.transitions);
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
  }
  const bool mine = l.holder == cfg_.identity;
  const bool expired = l.holder.empty() ||
                       now - observed_at_ > std::chrono::seconds(l.lease_duration_s > 0 ? l.lease_duration_s : 15);
  if (!mine && !expired) return false;
  if (!mine) {
    l.holder = cfg_.identity;
    l.acquire_time = stamp;
    l.transitions += 1;
  }
  l.renew_time = stamp;
  l.lease_duration_s = static_cast<int>(cfg_.lease_duration.count());
  auto updated = client_.update_lease(l);
  if (!updated) return false;
  observed_record_ = updated->holder + "|" + updated->renew_time + "|" + updated->acquire_time + "|" +
                     std::to_string(updated->transitions);
  observed_at_ = now;
  return true;
}

void LeaderElector::run() {
  while (!stopped_) {
    const bool ok = try_acquire_or_renew();
    const auto now = clock_.now();
    if (ok) {
      last_renew_ = now;
      set_leader(true);
    } else if (leader_ && now - last_renew_ > cfg_.renew_deadline) {
      set_leader(false);  // could not renew in time: someone else may take over
    }
    clock_.sleep_until(clock_.now() + cfg_.retry_period, stopped_);
  }
}

void LeaderElector::release() {
  if (!leader_) return;
  set_leader(false);
  auto got = client_.get_lease(cfg_.namespace_, cfg_.name);
  if (!got || !*got || (**got).holder != cfg_.identity) return;
  api::Lease l = **got;
  // As client-go's ReleaseOnCancel: empty holder, a one-second lease, so a peer takes over at once.
  l.holder = "";
  l.lease_duration_s = 1;
  l.renew_time = api::format_micro_time(clock_.wall());
  client_.update_lease(l);
}

}  // namespace pdscaler::ctl
