#pragma once
// Field lists: a struct names each of its members with its JSON key once, and the generic encoder
// and tolerant decoder (status_codec.h) walk that list, so a new status field is one declaration
// and one list entry side by side. Members that are not std::optional (or a list) are required when
// read back: a struct without one reads as unknown. Add new fields as std::optional, so a status
// written before the field existed still reads.
//
//   struct RoleStatus {
//     int gpus = 0;
//     static constexpr auto fields = field_list(field("gpus", &RoleStatus::gpus));
//   };

#include <tuple>

namespace pdscaler::api {

template <class Class, class Member>
struct Field {
  const char* name;
  Member Class::*member;
};

template <class Class, class Member>
constexpr Field<Class, Member> field(const char* name, Member Class::*member) {
  return {name, member};
}

template <class... Fields>
constexpr std::tuple<Fields...> field_list(Fields... f) {
  return {f...};
}

}  // namespace pdscaler::api
