//! `#[boundary]`: the one attribute every `#[pymethods]` block and `#[pyfunction]` of rgrad-py
//! carries, so that the binding boundary behaves the same everywhere:
//!
//! - each body runs inside `crate::errors::guard(name, ...)`, which turns a Rust panic into a
//!   Python `RuntimeError` naming the op (a panic would otherwise surface as PyO3's
//!   `PanicException`, a `BaseException` that `except Exception` misses); bodies that return a
//!   plain value get a `PyResult` return type for it;
//! - each typed argument that can fail to convert (`bool`, `i64`, `PyRef<PyTensor>`, ...) is
//!   read by a generated `from_py_with` extractor that reports a wrong type as PyTorch does:
//!   `sum(): argument 'keepdim' must be bool, not int`.
//!
//! The Python names come from the PyO3 attributes (`#[pyo3(name = ...)]`, `#[getter(x)]`,
//! `#[new]`), so messages name what the user called.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2, TokenTree};
use quote::{format_ident, quote};
use std::collections::HashMap;
use syn::{
    parse_macro_input, parse_quote, Attribute, Block, FnArg, ImplItem, Item, Pat, ReturnType, Signature, Type,
};

#[proc_macro_attribute]
pub fn boundary(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as Item);
    let mut extractors = Vec::new();
    let out = match item {
        Item::Impl(mut imp) => {
            let class = class_name(&imp.self_ty);
            for it in &mut imp.items {
                if let ImplItem::Fn(f) = it {
                    rewrite(&mut f.attrs, &mut f.sig, &mut f.block, Some(&class), &mut extractors);
                }
            }
            quote!(#imp)
        }
        Item::Fn(mut f) => {
            rewrite(&mut f.attrs, &mut f.sig, &mut f.block, None, &mut extractors);
            quote!(#f)
        }
        other => {
            syn::Error::new_spanned(other, "#[boundary] applies to #[pymethods] impls and #[pyfunction]s")
                .to_compile_error()
        }
    };
    quote!(#out #(#extractors)*).into()
}

/// `PyTensor` -> `Tensor`: the class name Python shows (the pyclasses here are named `Py*`).
fn class_name(ty: &Type) -> String {
    let name = match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default(),
        _ => String::new(),
    };
    name.strip_prefix("Py").unwrap_or(&name).to_string()
}

fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").unwrap_or(&s).to_string()
}

/// The name Python callers use for this function; `None` for functions PyO3 calls in ways a
/// wrapper must not change (GC slots, class attributes).
fn python_name(attrs: &[Attribute], ident: &syn::Ident, class: Option<&str>) -> Option<String> {
    let rust = unraw(ident);
    if rust == "__traverse__" || rust == "__clear__" {
        return None;
    }
    for a in attrs {
        let path = a.path();
        if path.is_ident("classattr") {
            return None;
        }
        if path.is_ident("new") {
            return Some(class.unwrap_or("__new__").to_string());
        }
        for (kind, prefix) in [("getter", "get_"), ("setter", "set_")] {
            if path.is_ident(kind) {
                if let syn::Meta::List(l) = &a.meta {
                    let given = l.tokens.to_string();
                    return Some(given.trim_matches('"').to_string());
                }
                return Some(rust.strip_prefix(prefix).unwrap_or(&rust).to_string());
            }
        }
        if let Some(TokenTree::Literal(l)) = pyo3_option(a, "name").and_then(|v| v.into_iter().next()) {
            return Some(l.to_string().trim_matches('"').to_string());
        }
    }
    Some(rust)
}

/// The tokens after `key =` in a `#[pyo3(...)]` attribute.
fn pyo3_option(attr: &Attribute, key: &str) -> Option<Vec<TokenTree>> {
    if !attr.path().is_ident("pyo3") {
        return None;
    }
    let syn::Meta::List(list) = &attr.meta else { return None };
    let tokens: Vec<TokenTree> = list.tokens.clone().into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        if matches!(&tokens[i], TokenTree::Ident(id) if id == key)
            && matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '=')
        {
            let rest = tokens[i + 2..]
                .iter()
                .take_while(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ','));
            return Some(rest.cloned().collect());
        }
        i += 1;
    }
    None
}

/// How each argument of `#[pyo3(signature = (...))]` can be passed: (has a default,
/// keyword-only). PyTorch's message gives the position of an argument passed positionally.
fn named_args(attrs: &[Attribute]) -> HashMap<String, (bool, bool)> {
    let mut out = HashMap::new();
    let Some(sig) = attrs.iter().find_map(|a| pyo3_option(a, "signature")) else { return out };
    let Some(TokenTree::Group(g)) = sig.into_iter().next() else { return out };
    let mut keyword_only = false;
    let mut piece: Vec<TokenTree> = Vec::new();
    let mut flush = |piece: &mut Vec<TokenTree>, keyword_only: &mut bool| {
        match piece.as_slice() {
            [TokenTree::Punct(p)] if p.as_char() == '*' => *keyword_only = true,
            [TokenTree::Ident(name), rest @ ..] => {
                let has_default = rest.iter().any(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '='));
                out.insert(name.to_string(), (has_default, *keyword_only));
            }
            _ => {}
        }
        piece.clear();
    };
    for t in g.stream() {
        if matches!(&t, TokenTree::Punct(p) if p.as_char() == ',') {
            flush(&mut piece, &mut keyword_only);
        } else {
            piece.push(t);
        }
    }
    flush(&mut piece, &mut keyword_only);
    out
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) => p.path.segments.last(),
        _ => None,
    }
}

fn first_generic(seg: &syn::PathSegment) -> Option<&Type> {
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else { return None };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// Arguments whose conversion cannot fail or that PyO3 treats specially keep PyO3's own
/// extraction: references (`&Bound<PyAny>`, `*args`), the `Python` token, `Py`/`Bound` handles.
fn extracted_by_pyo3(ty: &Type) -> bool {
    match ty {
        Type::Reference(_) => true,
        _ => match last_segment(ty) {
            Some(seg) => {
                let id = seg.ident.to_string();
                if id == "Option" {
                    return first_generic(seg).is_none_or(extracted_by_pyo3);
                }
                matches!(id.as_str(), "Python" | "Py" | "Bound" | "Borrowed")
            }
            None => true,
        },
    }
}

/// PyTorch's word for the expected type in "must be bool, not int".
fn expected_name(ty: &Type) -> String {
    let Some(seg) = last_segment(ty) else { return "object".into() };
    let id = seg.ident.to_string();
    match id.as_str() {
        "Option" => first_generic(seg).map(expected_name).unwrap_or_default(),
        "bool" => "bool".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize" => "int".into(),
        "f32" | "f64" => "float".into(),
        "String" | "PathBuf" => "str".into(),
        "PyRef" | "PyRefMut" => first_generic(seg).map(expected_name).unwrap_or_default(),
        "Vec" => {
            let inner = first_generic(seg).map(expected_name).unwrap_or_default();
            format!("tuple of {inner}s")
        }
        other => other.strip_prefix("Py").unwrap_or(other).to_string(),
    }
}

fn is_pyresult(out: &ReturnType) -> bool {
    match out {
        ReturnType::Type(_, ty) => last_segment(ty).is_some_and(|s| s.ident == "PyResult"),
        ReturnType::Default => false,
    }
}

/// `#[overloads("(Tensor min = None)", ...; "(Tensor input, Tensor min = None)", ...)]`:
/// PyTorch's signatures of the method form, then (after `;`) of the `torch.f` form, as its
/// "invalid combination of arguments" message prints them. Removed from `attrs`.
fn take_overloads(attrs: &mut Vec<Attribute>) -> Option<(Vec<String>, Vec<String>)> {
    let at = attrs.iter().position(|a| a.path().is_ident("overloads"))?;
    let attr = attrs.remove(at);
    let syn::Meta::List(list) = &attr.meta else { return Some(Default::default()) };
    let (mut method, mut function) = (Vec::new(), Vec::new());
    let mut in_function = false;
    for t in list.tokens.clone() {
        match t {
            TokenTree::Punct(p) if p.as_char() == ';' => in_function = true,
            TokenTree::Literal(l) => {
                let text = l.to_string();
                let text = text.trim_matches('"').to_string();
                if in_function {
                    function.push(text);
                } else {
                    method.push(text);
                }
            }
            _ => {}
        }
    }
    Some((method, function))
}

/// `Some(ptr)` for an argument that is a Python object as bound (`&Bound`, `Option<&Bound>`),
/// so an overload error can name its type; `None` for the others.
fn given_object(ident: &syn::Ident, ty: &Type) -> TokenStream2 {
    let is_bound_ref = |t: &Type| matches!(t, Type::Reference(r) if last_segment(&r.elem).is_some_and(|s| s.ident == "Bound"));
    if is_bound_ref(ty) {
        return quote!(::core::option::Option::Some(::pyo3::Bound::as_ptr(#ident)));
    }
    if let Some(seg) = last_segment(ty) {
        if seg.ident == "Option" && first_generic(seg).is_some_and(is_bound_ref) {
            return quote!(#ident.map(|b| ::pyo3::Bound::as_ptr(b)));
        }
    }
    quote!(::core::option::Option::None)
}

fn rewrite(
    attrs: &mut Vec<Attribute>,
    sig: &mut Signature,
    block: &mut Block,
    class: Option<&str>,
    extractors: &mut Vec<TokenStream2>,
) {
    let overloads = take_overloads(attrs);
    let Some(name) = python_name(attrs, &sig.ident, class) else { return };
    let named = named_args(attrs);
    let mut given = Vec::new();
    let fn_ident = unraw(&sig.ident);
    let mut position = 0usize;
    for input in sig.inputs.iter_mut() {
        let FnArg::Typed(arg) = input else { continue };
        let Pat::Ident(pat) = arg.pat.as_ref() else { continue };
        let arg_name = unraw(&pat.ident);
        let is_python = last_segment(&arg.ty).is_some_and(|s| s.ident == "Python");
        if is_python || arg_name == "slf" || arg_name == "cls" {
            continue;
        }
        position += 1;
        let py_name = arg_name.trim_start_matches('_').to_string();
        let value = given_object(&pat.ident, &arg.ty);
        given.push(quote!((#py_name, #value)));
        if extracted_by_pyo3(&arg.ty) || arg.attrs.iter().any(|a| a.path().is_ident("pyo3")) {
            continue;
        }
        let py_arg = arg_name.trim_start_matches('_').to_string();
        let (optional, keyword_only) = named.get(&arg_name).copied().unwrap_or((false, false));
        let pos = if keyword_only {
            quote!(::core::option::Option::None)
        } else {
            quote!(::core::option::Option::Some(#position))
        };
        let expected = expected_name(&arg.ty);
        let extractor = format_ident!(
            "__rgrad_arg_{}_{}_{}",
            class.unwrap_or("fn"),
            fn_ident,
            arg_name,
            span = Span::call_site()
        );
        extractors.push(quote! {
            #[doc(hidden)]
            #[allow(non_snake_case)]
            fn #extractor<'a, 'py, T: ::pyo3::FromPyObject<'a, 'py>>(
                ob: &'a ::pyo3::Bound<'py, ::pyo3::PyAny>,
            ) -> ::pyo3::PyResult<T> {
                crate::errors::extract_arg(ob, #name, #py_arg, #pos, #optional, #expected)
            }
        });
        arg.attrs.push(parse_quote!(#[pyo3(from_py_with = #extractor)]));
    }
    let body = block.clone();
    if let Some((method, function)) = overloads {
        if !is_pyresult(&sig.output) {
            *block = parse_quote!({ compile_error!("#[overloads] needs a PyResult return type") });
            return;
        }
        *block = parse_quote!({
            let __rgrad_given = [#(#given),*];
            crate::errors::guard_overloads(#name, &[#(#method),*], &[#(#function),*], &__rgrad_given, move || #body)
        });
    } else if is_pyresult(&sig.output) {
        *block = parse_quote!({ crate::errors::guard(#name, move || #body) });
    } else {
        let ty: Type = match &sig.output {
            ReturnType::Type(_, ty) => (**ty).clone(),
            ReturnType::Default => parse_quote!(()),
        };
        sig.output = parse_quote!(-> ::pyo3::PyResult<#ty>);
        *block = parse_quote!({ crate::errors::guard(#name, move || ::core::result::Result::Ok(#body)) });
    }
}
