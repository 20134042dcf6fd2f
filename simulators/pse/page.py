"""The simulated bank page where the payer approves, rejects or abandons the transfer."""

from __future__ import annotations

from html import escape

from simulators.pse.state import Transaction

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}"
    "button{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem;cursor:pointer}"
)


def render(txn: Transaction, bank: str) -> str:
    """HTML for one transaction: details, and the three buttons while it is pending."""
    rows = [
        ("Banco", bank),
        ("Referencia", txn.reference),
        ("Descripción", txn.description),
        ("Valor", f"$ {txn.amount} COP"),
        ("Estado", txn.status),
    ]
    details = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    if txn.status == "pending":
        action = f"/bank/{escape(txn.id)}/decision"
        buttons = "".join(
            f'<button type="submit" name="decision" value="{v}" id="{v}">{escape(label)}</button>'
            for v, label in (
                ("approve", "Aprobar"),
                ("reject", "Rechazar"),
                ("abandon", "Abandonar"),
            )
        )
        body = f'<form method="post" action="{action}">{buttons}</form>'
    else:
        body = f'<p><a href="{escape(txn.return_target())}">Volver al comercio</a></p>'
    return (
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        f"<title>PSE - {escape(bank)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(bank)}</h1><p>Pago PSE simulado por Paylab.</p><dl>{details}</dl>"
        f"{body}</body></html>"
    )
