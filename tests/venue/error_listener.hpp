// A venue listener for the venue client's tests: keeps the errors it is told, ignores the rest.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cwts/venue/venue.hpp"

namespace cwts::venue::test {

struct ErrorListener : VenueListener {
  void on_order_event(const OrderEvent&) override {}
  void on_venue_error(std::string_view what) override { errors.emplace_back(what); }
  std::vector<std::string> errors;
};

}  // namespace cwts::venue::test
