"""rgrad.vision against torchvision's numbers (tests/data/vision_*.npz, written by
tools/make_reference_vision.py): transforms, datasets, utils."""

import io
import pathlib

import numpy as np
import pytest

import rgrad
from rgrad.utils.data import DataLoader, Dataset
from rgrad.vision import datasets, utils
from rgrad.vision import transforms as T
from rgrad.vision.transforms import functional as F

Image = pytest.importorskip("PIL.Image")

DATA = pathlib.Path(__file__).parent / "data"
REF = np.load(DATA / "vision_transforms.npz")
UREF = np.load(DATA / "vision_utils.npz")


def arr(x):
    if isinstance(x, rgrad.Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def img():
    return Image.fromarray(REF["rgb"])


def timg():
    return F.to_tensor(img())


def same(got, key, ref=REF, atol=0.0):
    want = ref[key]
    got = arr(got)
    assert got.shape == want.shape, (key, got.shape, want.shape)
    if atol:
        np.testing.assert_allclose(got, want, atol=atol, rtol=0, err_msg=key)
    else:
        np.testing.assert_array_equal(got, want, err_msg=key)


# ----------------------------------------------------------------- conversions


def test_to_tensor_pil_and_ndarray():
    t = F.to_tensor(img())
    assert t.dtype == rgrad.float32 and tuple(t.shape) == (3, 23, 31)
    same(t, "to_tensor_pil")
    same(F.to_tensor(Image.fromarray(REF["gray"])), "to_tensor_gray")
    same(T.ToTensor()(REF["rgb"]), "to_tensor_ndarray")
    same(T.ToTensor()(REF["gray"]), "to_tensor_ndarray2d")
    got = F.to_tensor(REF["rgb"].astype(np.float64) / 7)
    assert got.dtype == rgrad.float64  # non-uint8 arrays keep their dtype and values
    same(got, "to_tensor_float_ndarray")


def test_to_tensor_rejects():
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        F.to_tensor([1, 2])
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions."):
        F.to_tensor(np.zeros((1, 2, 3, 4), dtype=np.uint8))


def test_pil_to_tensor_and_back():
    t = T.PILToTensor()(img())
    assert t.dtype == rgrad.int64  # rgrad's stand-in for uint8
    same(t, "pil_to_tensor")
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(t)), REF["rgb"])


def test_to_pil_image():
    same(F.to_pil_image(timg()), "to_pil_float")
    same(T.ToPILImage()(rgrad.from_numpy(REF["signed"])), "to_pil_signed")
    g = F.to_pil_image(timg()[:1])
    assert g.mode == "L"
    same(g, "to_pil_gray_float")
    with pytest.raises(TypeError, match="pic should be Tensor or ndarray"):
        F.to_pil_image([1])
    with pytest.raises(ValueError, match="pic should not have > 4 channels. Got 5 channels."):
        F.to_pil_image(np.zeros((2, 2, 5), dtype=np.uint8))
    with pytest.raises(ValueError, match="Only modes"):
        F.to_pil_image(np.zeros((2, 2, 3), dtype=np.uint8), mode="RGBA")


def test_normalize():
    t = timg()
    out = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(t)
    same(out, "normalize", atol=1e-6)
    same(t, "to_tensor_pil")  # not in place by default
    t2 = timg()
    res = F.normalize(t2, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], inplace=True)
    same(t2, "normalize", atol=1e-6)
    assert res is t2 or np.array_equal(arr(res), arr(t2))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        F.normalize(timg(), [0.0] * 3, [1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        F.normalize(rgrad.zeros(3, 2, 2, dtype=rgrad.int64), [0.0], [1.0])
    with pytest.raises(ValueError, match="Expected tensor to be a tensor image"):
        F.normalize(rgrad.zeros(2, 2), [0.0], [1.0])


def test_convert_image_dtype():
    t = timg().double()
    same(T.ConvertImageDtype(rgrad.int32)(t), "convert_float_int32")
    assert F.convert_image_dtype(t, rgrad.float32).dtype == rgrad.float32
    i = rgrad.tensor([[[0, 2147483647]]], dtype=rgrad.int32)
    np.testing.assert_allclose(arr(F.convert_image_dtype(i, rgrad.float64)), [[[0.0, 1.0]]])
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(rgrad.zeros(1, 1, 1), rgrad.int64)


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    ("key", "size", "mode"),
    [
        ("resize_int", 12, None),
        ("resize_tuple", (9, 17), None),
        ("resize_up", 40, None),
        ("resize_nearest", (10, 13), T.InterpolationMode.NEAREST),
        ("resize_bicubic", (10, 13), T.InterpolationMode.BICUBIC),
    ],
)
def test_resize_pil(key, size, mode):
    r = T.Resize(size) if mode is None else T.Resize(size, interpolation=mode)
    same(r(img()), key)


def test_resize_max_size_and_errors():
    same(F.resize(img(), 12, max_size=14), "resize_max_size")
    with pytest.raises(ValueError, match="must be strictly greater"):
        F.resize(img(), 12, max_size=12)
    with pytest.raises(ValueError, match="max_size should only be passed"):
        F.resize(img(), (3, 4), max_size=12)
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)
    with pytest.raises(ValueError, match="If size is a sequence, it should have 1 or 2 values"):
        T.Resize((1, 2, 3))
    assert F.resize(img(), [23, 31]) is not None  # same size: returned as is


def test_resize_tensor_states_what_is_missing():
    if hasattr(rgrad.nn.functional, "interpolate"):
        pytest.skip("interpolate exists: covered by its own tests")
    with pytest.raises(NotImplementedError, match="interpolate"):
        F.resize(timg(), 12)


def test_crops():
    same(T.CenterCrop(10)(img()), "center_crop")
    same(T.CenterCrop((7, 12))(img()), "center_crop_rect")
    same(F.center_crop(img(), (30, 40)), "center_crop_pad")
    same(F.center_crop(timg(), (30, 12)), "center_crop_tensor")
    same(F.crop(img(), 3, 4, 10, 12), "crop")
    same(F.crop(timg(), -2, 25, 8, 9), "crop_tensor_outside")
    same(F.resized_crop(img(), 2, 3, 15, 20, [8, 8]), "resized_crop")
    with pytest.raises(ValueError, match="Please provide only two dimensions"):
        T.CenterCrop((1, 2, 3))


def test_flips():
    same(F.hflip(img()), "hflip")
    same(F.vflip(img()), "vflip")
    same(F.hflip(timg()), "hflip_tensor")
    same(F.vflip(timg()), "vflip_tensor")
    same(T.RandomHorizontalFlip(p=1.0)(img()), "hflip")
    same(T.RandomVerticalFlip(p=1.0)(timg()), "vflip_tensor")
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=0.0)(img())), REF["rgb"])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad(mode):
    same(F.pad(img(), [1, 2, 3, 4], fill=7, padding_mode=mode), f"pad_{mode}")
    same(T.Pad([3, 1], fill=0.5, padding_mode=mode)(timg()), f"pad_{mode}_tensor")


def test_pad_errors_and_fill():
    same(F.pad(img(), 2, fill=(10, 20, 30)), "pad_fill_rgb")
    with pytest.raises(ValueError, match="Padding mode should be either"):
        F.pad(timg(), 1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4 element tuple"):
        F.pad(img(), (1, 2, 3))
    with pytest.raises(ValueError, match="does not match the number of channels"):
        F.pad(img(), 1, fill=(1, 2))


# ------------------------------------------------------------------ colour


@pytest.mark.parametrize("factor", [0.0, 0.5, 1.7])
def test_color_adjustments(factor):
    tag = str(factor).replace(".", "_")
    same(F.adjust_brightness(img(), factor), f"brightness_{tag}")
    same(F.adjust_contrast(img(), factor), f"contrast_{tag}")
    same(F.adjust_saturation(img(), factor), f"saturation_{tag}")
    same(F.adjust_brightness(timg(), factor), f"brightness_{tag}_tensor", atol=1e-6)
    same(F.adjust_contrast(timg(), factor), f"contrast_{tag}_tensor", atol=1e-6)
    same(F.adjust_saturation(timg(), factor), f"saturation_{tag}_tensor", atol=1e-6)


@pytest.mark.parametrize("hue", [-0.3, 0.1, 0.5])
def test_hue(hue):
    same(F.adjust_hue(img(), hue), f"hue_{str(hue).replace('.', '_').replace('-', 'm')}")


def test_color_misc():
    same(F.adjust_contrast(Image.fromarray(REF["gray"]), 0.3), "contrast_gray")
    same(F.rgb_to_grayscale(timg()), "grayscale_tensor", atol=1e-6)
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]."):
        F.adjust_hue(img(), 0.7)
    with pytest.raises(ValueError, match="brightness_factor"):
        F.adjust_brightness(timg(), -1)
    with pytest.raises(
        ValueError, match="If brightness is a single number, it must be non negative."
    ):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(TypeError, match="contrast should be a single number"):
        T.ColorJitter(contrast=(1, 2, 3))
    assert T.ColorJitter(brightness=0).brightness is None


# ------------------------------------------------------------ random transforms


def _random_pipeline():
    return T.Compose(
        [
            T.RandomResizedCrop(12, scale=(0.2, 1.0)),
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.ColorJitter(0.4, 0.4, 0.4, 0.1),
            T.RandomCrop(10, padding=2),
            T.ToTensor(),
        ]
    )


def test_random_transforms_follow_manual_seed():
    pipe = _random_pipeline()
    rgrad.manual_seed(123)
    first = [arr(pipe(img())) for _ in range(4)]
    rgrad.manual_seed(123)
    again = [arr(pipe(img())) for _ in range(4)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
        assert a.shape == (3, 10, 10)
    assert any(not np.array_equal(first[0], x) for x in first[1:])  # the draws do vary
    rgrad.manual_seed(124)
    other = [arr(pipe(img())) for _ in range(4)]
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_random_crop_params_cover_the_range():
    rgrad.manual_seed(0)
    seen = {T.RandomCrop.get_params(img(), (20, 29))[:2] for _ in range(200)}
    assert seen == {(i, j) for i in range(4) for j in range(3)}
    assert T.RandomCrop.get_params(img(), (23, 31)) == (0, 0, 23, 31)
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop.get_params(img(), (24, 5))


def test_random_crop_pad_if_needed():
    out = T.RandomCrop((30, 40), pad_if_needed=True)(img())
    assert out.size == (40, 30)
    t = T.RandomCrop(8, padding=(1, 2), padding_mode="reflect")(timg())
    assert tuple(t.shape) == (3, 8, 8)


def test_random_resized_crop_params():
    rgrad.manual_seed(5)
    h, w = 23, 31
    for _ in range(100):
        i, j, ch, cw = T.RandomResizedCrop.get_params(img(), (0.3, 0.9), (0.5, 2.0))
        assert 0 < ch <= h and 0 < cw <= w and 0 <= i <= h - ch and 0 <= j <= w - cw
        assert 0.3 * h * w * 0.5 <= ch * cw <= 0.9 * h * w * 1.3  # rounding allowance
    for key, shape in (("wide", (10, 50)), ("tall", (50, 10)), ("square", (9, 9))):
        got = T.RandomResizedCrop.get_params(rgrad.zeros(3, *shape), [2.0, 3.0], [0.75, 4 / 3])
        np.testing.assert_array_equal(got, REF[f"rrc_fallback_{key}"])
    with pytest.warns(UserWarning, match="Scale and ratio should be of kind"):
        T.RandomResizedCrop(4, scale=(1.0, 0.5))
    assert T.RandomResizedCrop((5, 6))(img()).size == (6, 5)


def test_color_jitter_reproducible():
    cj = T.ColorJitter(0.5, 0.5, 0.5, 0.2)
    rgrad.manual_seed(9)
    a = [np.asarray(cj(img())) for _ in range(3)]
    rgrad.manual_seed(9)
    b = [np.asarray(cj(img())) for _ in range(3)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])


def test_lambda():
    assert T.Lambda(lambda x: x + 1)(1) == 2
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)


def test_reprs():
    reprs = [
        T.Compose([T.ToTensor(), T.Normalize(mean=[0.5, 0.25], std=(0.1, 0.2))]),
        T.Resize((3, 4)),
        T.Resize(5, interpolation=T.InterpolationMode.NEAREST, max_size=9, antialias=False),
        T.CenterCrop(4),
        T.RandomCrop(5, padding=2, pad_if_needed=True),
        T.RandomResizedCrop((5, 6), scale=(0.3, 0.9), ratio=(0.5, 2.0)),
        T.RandomHorizontalFlip(),
        T.RandomVerticalFlip(0.3),
        T.ColorJitter(brightness=0.2, contrast=(0.5, 1.5), saturation=0, hue=0.1),
        T.Lambda(lambda x: x),
        T.ToPILImage(),
        T.ToPILImage(mode="RGB"),
        T.PILToTensor(),
        T.ConvertImageDtype(rgrad.float64),
        T.Pad((1, 2), fill=3, padding_mode="edge"),
    ]
    assert [repr(r) for r in reprs] == list(REF["reprs"])


# ------------------------------------------------------------------ datasets


def _tree(root, classes, per_class, ext=".png"):
    rng = np.random.RandomState(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for k in range(per_class):
            a = rng.randint(0, 256, (6 + k, 5, 3), dtype=np.uint8)
            Image.fromarray(a).save(root / c / f"im{k}{ext}")
    return root


def test_image_folder(tmp_path):
    root = _tree(tmp_path / "data", ["dog", "cat", "bird"], 3)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / "sub").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "cat" / "sub" / "deep.PNG")
    ds = datasets.ImageFolder(str(root), transform=T.ToTensor())
    assert ds.classes == ["bird", "cat", "dog"]
    assert ds.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    assert len(ds) == 10 and ds.targets == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    assert ds.samples[6] == (str(root / "cat" / "sub" / "deep.PNG"), 1)
    assert ds.imgs is ds.samples and ds.extensions == datasets.IMG_EXTENSIONS
    x, y = ds[0]
    assert isinstance(x, rgrad.Tensor) and tuple(x.shape) == (3, 6, 5) and y == 0
    raw = datasets.ImageFolder(root)
    assert raw[0][0].mode == "RGB"
    only_first = datasets.ImageFolder(root, is_valid_file=lambda p: p.endswith("im0.png"))
    assert only_first.targets == [0, 1, 2] and only_first.extensions is None
    r = repr(datasets.ImageFolder(root, transform=T.ToTensor()))
    assert r.splitlines()[:3] == [
        "Dataset ImageFolder",
        "    Number of datapoints: 10",
        f"    Root location: {root}",
    ]
    assert r.splitlines()[3:] == ["    StandardTransform", "Transform: ToTensor()"]


def test_image_folder_errors(tmp_path):
    root = _tree(tmp_path / "d", ["a", "b"], 1)
    (root / "empty").mkdir()
    with pytest.raises(
        FileNotFoundError, match="Found no valid file for the classes empty. Supported"
    ):
        datasets.ImageFolder(root)
    ds = datasets.ImageFolder(root, allow_empty=True)
    assert ds.classes == ["a", "b", "empty"] and ds.targets == [0, 1]
    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "none")
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        datasets.DatasetFolder(root, loader=lambda p: p)
    with pytest.raises(ValueError, match="Only transforms or transform/target_transform"):
        datasets.VisionDataset(root, transforms=lambda a, b: (a, b), transform=lambda a: a)


def test_dataset_folder_custom_loader(tmp_path):
    root = tmp_path / "t"
    for c in ("x", "y"):
        (root / c).mkdir(parents=True)
        for k in range(2):
            (root / c / f"{k}.txt").write_text(f"{c}{k}")
    ds = datasets.DatasetFolder(
        root,
        loader=lambda p: pathlib.Path(p).read_text(),
        extensions=".txt",
        target_transform=lambda t: t * 10,
    )
    assert [ds[i] for i in range(len(ds))] == [("x0", 0), ("x1", 0), ("y0", 10), ("y1", 10)]
    assert isinstance(ds, Dataset)


def test_image_folder_dataloader(tmp_path):
    root = _tree(tmp_path / "dl", ["a", "b"], 3)
    tf = T.Compose([T.Resize((4, 4)), T.ToTensor()])
    ds = datasets.ImageFolder(root, transform=tf)
    batches = list(DataLoader(ds, batch_size=4, shuffle=False))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 4, 4), (2, 3, 4, 4)]
    assert [arr(y).tolist() for _, y in batches] == [[0, 0, 0, 1], [1, 1]]
    np.testing.assert_array_equal(arr(batches[0][0][1]), arr(ds[1][0]))
    rgrad.manual_seed(3)
    ys = sorted(int(v) for _, y in DataLoader(ds, batch_size=2, shuffle=True) for v in arr(y))
    assert ys == [0, 0, 0, 1, 1, 1]


def test_fake_data():
    fd = datasets.FakeData(size=5, image_size=(3, 6, 7), num_classes=3, transform=T.ToTensor())
    assert len(fd) == 5
    x, y = fd[2]
    assert tuple(x.shape) == (3, 6, 7) and isinstance(y, int) and 0 <= y < 3
    rgrad.manual_seed(0)
    x2, y2 = fd[2]
    expected_next = rgrad.rand(3)
    rgrad.manual_seed(0)
    x3, y3 = fd[2]  # the same sample every time; the global stream stays reproducible
    np.testing.assert_array_equal(arr(x), arr(x2))
    np.testing.assert_array_equal(arr(x), arr(x3))
    assert y == y2 == y3
    np.testing.assert_array_equal(arr(rgrad.rand(3)), arr(expected_next))
    assert not np.array_equal(arr(fd[1][0]), arr(x))
    shifted = datasets.FakeData(
        size=5, image_size=(3, 6, 7), random_offset=1, transform=T.ToTensor()
    )
    np.testing.assert_array_equal(arr(shifted[1][0]), arr(x))
    with pytest.raises(IndexError, match="FakeData index out of range"):
        fd[5]
    assert datasets.FakeData(size=2, image_size=(1, 4, 4))[0][0].mode == "L"
    batch = next(iter(DataLoader(fd, batch_size=5)))
    assert tuple(batch[0].shape) == (5, 3, 6, 7) and tuple(batch[1].shape) == (5,)


# ------------------------------------------------------------------ utils


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        ("grid_default", {}),
        ("grid_nrow2", {"nrow": 2, "padding": 1, "pad_value": 0.5}),
        ("grid_pad0", {"nrow": 3, "padding": 0}),
        ("grid_norm", {"nrow": 2, "normalize": True}),
        ("grid_range", {"normalize": True, "value_range": (-1.0, 0.5)}),
        ("grid_each", {"nrow": 4, "normalize": True, "scale_each": True}),
    ],
)
def test_make_grid(key, kwargs):
    batch = rgrad.from_numpy(UREF["batch"])
    same(utils.make_grid(batch, **kwargs), key, ref=UREF, atol=1e-12)
    np.testing.assert_array_equal(arr(batch), UREF["batch"])  # input untouched


def test_make_grid_shapes_and_errors():
    gray = rgrad.from_numpy(UREF["gray"])
    same(utils.make_grid(gray, nrow=2), "grid_gray", ref=UREF)
    same(utils.make_grid(gray[0]), "grid_single", ref=UREF)
    batch = rgrad.from_numpy(UREF["batch"])
    same(utils.make_grid([batch[0], batch[1], batch[2]], padding=3), "grid_list", ref=UREF)
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        utils.make_grid([batch[0], 3])
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        utils.make_grid(batch, normalize=True, value_range=[0, 1])


def test_save_image(tmp_path):
    batch = rgrad.from_numpy(UREF["batch"])
    buf = io.BytesIO()
    utils.save_image(batch[:4].clamp(-0.2, 1.2), buf, format="png", nrow=2, padding=1)
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(buf.getvalue()))), UREF["saved_png"]
    )
    path = tmp_path / "grid.png"
    utils.save_image(batch, path, normalize=True)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), UREF["saved_png_norm"])
