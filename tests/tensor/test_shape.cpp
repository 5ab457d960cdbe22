// Tensor basics: reshape is a view with -1 inference, and every shape error names the op and
// the shapes involved (the message text is part of the interface).
#define BOOST_TEST_MODULE tensor_shape
#include <boost/test/unit_test.hpp>

#include "tensor/ops.hpp"

using namespace lz;

namespace {
template <typename E = ShapeError, typename F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  BOOST_ERROR("expected an exception");
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(reshape_is_a_view_with_minus_one_inference) {
  TensorF a = TensorF::arange(24);
  TensorF v = a.reshape({2, -1, 4});
  BOOST_TEST(v.shape() == (Shape{2, 3, 4}));
  BOOST_TEST(v.data() == a.data());  // same buffer
  v.at({1, 2, 3}) = -5.0f;
  BOOST_TEST(a[23] == -5.0f);  // a write through the view is seen by the original
  BOOST_TEST(!a.unique());
  BOOST_TEST(a.reshape({-1}).shape() == (Shape{24}));
  BOOST_TEST(TensorF::scalar(3).reshape({1, 1}).shape() == (Shape{1, 1}));
  const TensorF c = a.clone();
  BOOST_TEST(c.data() != a.data());
  BOOST_TEST(c.unique());
}

BOOST_AUTO_TEST_CASE(reshape_errors) {
  const TensorF a = TensorF::zeros({2, 3});
  BOOST_TEST(message_of([&] { a.reshape({4, 2}); }) == "reshape: cannot view shape [2,3] (6 elements) as [4,2]");
  BOOST_TEST(message_of([&] { a.reshape({-1, -1}); }) == "reshape: more than one -1 in [-1,-1]");
  BOOST_TEST(message_of([&] { a.reshape({4, -1}); }).find("cannot view shape [2,3]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(broadcast_errors_name_op_and_both_shapes) {
  const TensorD a = TensorD::zeros({2, 3}), b = TensorD::zeros({4});
  BOOST_TEST(message_of([&] { add(a, b); }) == "add: shapes [2,3] and [4] do not broadcast (dimension 1: 3 vs 4)");
  BOOST_TEST(message_of([&] { mul(b, a); }) == "mul: shapes [4] and [2,3] do not broadcast (dimension 1: 4 vs 3)");
  BOOST_TEST(message_of([&] { sub(TensorD::zeros({2, 5, 3}), TensorD::zeros({3, 1})); }) ==
             "sub: shapes [2,5,3] and [3,1] do not broadcast (dimension 1: 5 vs 3)");
}

BOOST_AUTO_TEST_CASE(other_shape_errors) {
  const TensorD a = TensorD::zeros({2, 3});
  BOOST_TEST(message_of([&] { concat<double>({a, TensorD::zeros({2, 4})}, 0); }) ==
             "concat: shapes [2,3] and [2,4] differ outside axis 0");
  BOOST_TEST(message_of([&] { narrow(a, 1, 2, 2); }) == "narrow: range [2,4) out of bounds for axis 1 of shape [2,3]");
  BOOST_TEST(message_of([&] { sum(a, 2); }) == "sum: axis 2 out of range for a 2-d tensor");
  BOOST_TEST(message_of([&] { a.item(); }) == "item: tensor of shape [2,3] is not one element");
  BOOST_TEST(message_of([&] { TensorD::from({1.0, 2.0, 3.0}, {2, 2}); }) ==
             "Tensor::from: 3 values do not fill shape [2,2]");
  BOOST_TEST(message_of<std::out_of_range>([&] { a.at({1, 3}); }) ==
             "at: index 3 out of range for dimension 1 of shape [2,3]");
  BOOST_TEST(message_of<std::out_of_range>([&] { index_select(a, {0, 2}); }) ==
             "index_select: row 2 out of range for shape [2,3]");
  BOOST_TEST(message_of([&] { TensorD({2, -1}); }) == "tensor: negative dimension in shape [2,-1]");
}

BOOST_AUTO_TEST_CASE(narrow_concat_index_select_round_trip) {
  const TensorD a = TensorD::arange(24).reshape({4, 6});
  const TensorD left = narrow(a, 1, 0, 2), right = narrow(a, 1, 2, 4);
  const TensorD back = concat<double>({left, right}, 1);
  BOOST_TEST(std::memcmp(back.data(), a.data(), sizeof(double) * 24) == 0);
  const TensorD rows = index_select(a, {3, 3, 0});
  BOOST_TEST(rows.shape() == (Shape{3, 6}));
  BOOST_TEST(rows.at({1, 5}) == 23.0);
  BOOST_TEST(rows.at({2, 1}) == 1.0);
  TensorD acc = TensorD::zeros({4, 6});
  narrow_assign(acc, right, 1, 2, true);
  narrow_assign(acc, right, 1, 2, true);
  BOOST_TEST(acc.at({3, 5}) == 46.0);
  BOOST_TEST(acc.at({3, 1}) == 0.0);
}

BOOST_AUTO_TEST_CASE(creation_and_printing) {
  const TensorF f = TensorF::full({2, 2}, 1.5f);
  BOOST_TEST(f.to_string() == "Tensor[2,2] [[1.5, 1.5], [1.5, 1.5]]");
  BOOST_TEST(TensorD::ones({3})[2] == 1.0);
  BOOST_TEST(TensorD::scalar(4.0).dim() == 0);
  BOOST_TEST(TensorD::scalar(4.0).item() == 4.0);
  BOOST_TEST(!TensorD().defined());
}
