"""A plain HTML rendering of a lot's public document, for a browser that asks for HTML at
the gs1:traceability link. The consumer's stamp page (scanapp/scan/pages.py) is the rich one;
this is the document itself, readable, escaped, with no script."""

from __future__ import annotations

from flask import render_template_string

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Truy xuất nguồn gốc: {{ v.name }} (lô {{ v.lot }})</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:1rem auto;padding:0 1rem;
line-height:1.45}h1{font-size:1.3rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
.recall{background:#b00020;color:#fff;padding:.6rem;border-radius:.3rem}</style></head>
<body>
<h1>{{ v.name }}</h1>
{% if v.recall %}<p class="recall">Lô hàng đã bị thu hồi: {{ v.recall.reason }}
 ({{ v.recall.recalled_at }}{% if v.recall.by %}, {{ v.recall.by }}{% endif %})</p>{% endif %}
<table>
<tr><th>Mã sản phẩm (GTIN)</th><td>{{ v.gtin }}</td></tr>
<tr><th>Số lô</th><td>{{ v.lot }}</td></tr>
<tr><th>Nhà sản xuất</th><td>{{ v.producer.name if v.producer else "" }}</td></tr>
<tr><th>Địa chỉ</th><td>{{ v.address or "" }}{% if v.producer and v.producer.province_name %},
 {{ v.producer.province_name }}{% endif %}</td></tr>
{% if v.origin %}<tr><th>Vùng nguyên liệu</th><td>{{ v.origin.name }}
 {% if v.origin.planting_area_code %}(mã số vùng trồng {{ v.origin.planting_area_code }}){% endif %}
 {% if v.origin.province_name %}, {{ v.origin.province_name }}{% endif %}</td></tr>{% endif %}
<tr><th>Ngày sản xuất</th><td>{{ v.production_time.production_date or "" }}
 {% if v.production_time.harvest_start %}thu hoạch {{ v.production_time.harvest_start }}
 {% if v.production_time.harvest_end %}đến {{ v.production_time.harvest_end }}{% endif %}
 {% endif %}</td></tr>
<tr><th>Hạn sử dụng</th>
 <td>{{ v.shelf_life.expiry_date or v.shelf_life.best_before or "" }}</td></tr>
<tr><th>Thương hiệu</th><td>{{ v.brand.name }}</td></tr>
<tr><th>Tiêu chuẩn áp dụng</th><td>{{ v.standards | join(", ") }}</td></tr>
</table>
<h2>Chứng nhận</h2>
<ul>{% for c in v.certificates %}<li>{{ c.scheme_name }} số {{ c.number }}, {{ c.issuer }}
 (đến {{ c.valid_to or "không thời hạn" }}){% if c.status == "expired" %}: <b>đã hết hạn</b>
{%- else %}: còn hiệu lực{% endif %}</li>{% else %}<li>Không có</li>{% endfor %}</ul>
<h2>Hành trình sản phẩm</h2>
<table><tr><th>Thời gian</th><th>Công đoạn</th><th>Nơi</th><th>Đơn vị</th></tr>
{% for s in v.stages %}<tr><td>{{ s.time }}</td><td>{{ s.step_name }}</td>
<td>{{ s.place.name if s.place else "" }}</td><td>{{ s.actor or "" }}</td></tr>{% endfor %}
</table>
</body></html>"""


def render_lot(view: dict) -> str:
    return render_template_string(PAGE, v=view)
