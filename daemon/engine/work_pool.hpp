#pragma once
// The hashing pool: runs blocking work (hashing, disk scans, taking in a publisher's files) on
// worker threads and hands each result back to the io_context thread. Results of work still
// running when the pool is stopped are dropped, never delivered to a destroyed owner.
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace weights::daemon {

class WorkPool {
 public:
  WorkPool(boost::asio::io_context& ioc, unsigned threads)
      : ioc_(ioc), pool_(threads == 0 ? 1 : threads), alive_(std::make_shared<bool>(true)) {}
  ~WorkPool() { stop(); }
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  boost::asio::io_context& ioc() { return ioc_; }

  // Runs `work()` on a worker and `then(result)` on the io_context thread (unless stopped).
  template <class Work, class Then>
  void run(Work work, Then then) {
    std::weak_ptr<bool> weak = alive_;
    boost::asio::post(pool_, [this, weak, work = std::move(work),
                              then = std::move(then)]() mutable {
      auto result = work();
      boost::asio::post(ioc_, [weak, then = std::move(then), result = std::move(result)]() mutable {
        if (auto a = weak.lock(); a && *a) then(std::move(result));
      });
    });
  }

  // Drops every result not delivered yet and waits for the workers (blocks while one runs).
  void stop() {
    *alive_ = false;
    pool_.stop();
    pool_.join();
  }

 private:
  boost::asio::io_context& ioc_;
  boost::asio::thread_pool pool_;
  std::shared_ptr<bool> alive_;
};

}  // namespace weights::daemon
